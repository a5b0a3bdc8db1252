"""Clustering quality of user embeddings: k-means, silhouette, Davies-Bouldin, adjusted Rand index.
Plain NumPy, so the trainer needs nothing beyond Debian's python3-torch and python3-numpy."""
import numpy as np


def kmeans(x, k, seed=0, restarts=5, iterations=100):
    """k-means++ with restarts; returns the labels of the lowest-inertia run."""
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        centers = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None] - np.array(centers)[None]) ** 2).sum(-1), axis=1)
            centers.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        centers = np.array(centers)
        for _ in range(iterations):
            labels = ((x[:, None] - centers[None]) ** 2).sum(-1).argmin(1)
            moved = np.array([x[labels == j].mean(0) if np.any(labels == j) else centers[j] for j in range(k)])
            if np.allclose(moved, centers):
                break
            centers = moved
        inertia = ((x - centers[labels]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def silhouette(x, labels):
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    scores = []
    for i in range(len(x)):
        same = labels == labels[i]
        if same.sum() <= 1:
            scores.append(0.0)
            continue
        a = d[i, same].sum() / (same.sum() - 1)
        b = min(d[i, labels == j].mean() for j in np.unique(labels) if j != labels[i])
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


def davies_bouldin(x, labels):
    ks = np.unique(labels)
    centers = np.array([x[labels == k].mean(0) for k in ks])
    spread = np.array([np.sqrt(((x[labels == k] - centers[i]) ** 2).sum(-1)).mean() for i, k in enumerate(ks)])
    worst = []
    for i in range(len(ks)):
        ratios = [(spread[i] + spread[j]) / np.linalg.norm(centers[i] - centers[j]) for j in range(len(ks)) if j != i]
        worst.append(max(ratios))
    return float(np.mean(worst))


def adjusted_rand_index(a, b):
    a = np.unique(a, return_inverse=True)[1]
    b = np.unique(b, return_inverse=True)[1]
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)
    comb = lambda n: n * (n - 1) / 2
    index = comb(table).sum()
    rows, cols = comb(table.sum(1)).sum(), comb(table.sum(0)).sum()
    expected = rows * cols / comb(len(a))
    maximum = (rows + cols) / 2
    return float((index - expected) / (maximum - expected)) if maximum != expected else 1.0
