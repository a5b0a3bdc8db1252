"""A baseline we lacked (issue 14, session 28): the latent-class logistic model, the classic
model of "users like them" in groups (Hofmann and Puzicha's latent class models for
collaborative filtering, with a logistic regression over item vectors in place of a table).
Session 16 fitted it as a reference of what groups are worth (trainer/bench_group_oracle.py,
`--learned`) and found it level with the network on the default world; it was never a row
the model had to beat.

K classes of users, each with its own logistic regression over item vectors; a user belongs to
one class, unknown. Fitted by EM on the training users: a user's responsibilities are the
posterior of each class given all their labels; each class's weights are refitted on every
training label weighted by its user's responsibility. A new user's classes are weighed by how
well each explains the history (prior times likelihood), and a candidate scores by the log-odds
of the mixture's chance of a like. K = 1 is the global logistic regression.

What the paper's preference tokens are for, without a network: the network must beat it where
users come in groups. K is chosen on training users, as user-kNN's neighbours are. The class
weights are pulled towards `pull_to` (0 for the baseline, so one class is the global
regression; the global weights for bench_group_oracle's groups).
"""
import numpy as np

from .baselines import CO_LIKE_WEIGHTS, GLOBAL_FIT_ROWS, _with_bias, fit_logistic, memoized, upper_bound_sum
from .data import choose_history_size, split_users, subset
from .evaluate import evaluate

# Classes tried, chosen on training users (tune_latent_classes).
CLASS_GRID = (1, 2, 4, 8, 16, 32)
# EM rounds at most, and the largest change of a responsibility or a weight that counts as converged.
EM_ROUNDS = 40
EM_TOLERANCE = 1e-4
# Newton steps per class per round: warm-started from the last round's weights, a few suffice
# (generalised EM: each round still raises the likelihood).
NEWTON_STEPS = 5
# Each class's weights are pulled towards 0 with this L2, as the global regression's are.
CLASS_L2 = 1.0
# Weights of the latent classes' log-odds beside the regression, the rate and the co-likes.
LATENT_CLASS_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def whole_users(dataset, max_rows, seed=0):
    """The dataset's users (sorted), or a seeded sample of whole users whose labels come to at most
    `max_rows` when they have more (a user's responsibilities need all their labels)."""
    users = sorted(dataset.users)
    sizes = np.array([len(dataset.users[u]) for u in users])
    if sizes.sum() > max_rows:
        order = np.random.default_rng(seed).permutation(len(users))
        keep = order[: max(1, int(np.searchsorted(np.cumsum(sizes[order]), max_rows)))]
        users = [users[i] for i in sorted(keep)]
    return users


def _rows(dataset, max_rows=GLOBAL_FIT_ROWS, seed=0):
    """(item rows [N], labels [N], owner index [N], user count): every label of the dataset's
    users, or the labels of a seeded sample of whole users (whole_users)."""
    users = whole_users(dataset, max_rows, seed)
    items = np.array([r.item for u in users for r in dataset.users[u]])
    labels = np.array([r.label for u in users for r in dataset.users[u]], np.float64)
    owner = np.concatenate([np.full(len(dataset.users[u]), i) for i, u in enumerate(users)])
    return items, labels, owner, len(users)


def _class_log_likelihoods(margins, labels, owner, users):
    """[users, K]: each user's log-likelihood of all their labels under each class, from each
    label's item's margins [N, K] under the classes."""
    per_row = -np.logaddexp(0.0, -(2.0 * labels[:, None] - 1.0) * margins)
    # A bincount per class adds each user's rows in the order np.add.at did, so the sums are the
    # same to the bit; np.add.at was 12 s of the 64,000-user world's 27 s of latent classes.
    return np.stack([np.bincount(owner, weights=per_row[:, k], minlength=users) for k in range(margins.shape[1])], axis=1)


def _posterior(log_likelihoods, prior):
    """Rows of log_likelihoods + log prior, normalised to probabilities."""
    logits = log_likelihoods + np.log(prior + 1e-12)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def fit_latent_classes(dataset, classes: int, seed: int = 0, pull_to=None):
    """(weights [K, D + 1], prior [K]) by EM from seeded random responsibilities."""
    items, labels, owner, users = _rows(dataset, seed=seed)
    # A class's loss over the labels depends on each item only through the responsibilities summed
    # over its likes and over its dislikes: the M-step fits each class on the rated items, each
    # weighed by that sum with its share of likes as the label (the same loss and Newton steps,
    # on about 50 times fewer rows on MovieLens).
    rated, items = np.unique(items, return_inverse=True)
    x = dataset.vectors[rated].astype(np.float64)
    with_bias = _with_bias(x)
    responsibilities = np.random.default_rng(seed).dirichlet(np.ones(classes), size=users)
    weights = np.tile(np.zeros(x.shape[1] + 1) if pull_to is None else np.asarray(pull_to, np.float64), (classes, 1))
    for _ in range(EM_ROUNDS):
        before = weights.copy()
        for k in range(classes):
            share = responsibilities[owner, k]
            total = np.bincount(items, weights=share, minlength=len(rated))
            liked = np.bincount(items, weights=share * labels, minlength=len(rated))
            weights[k] = fit_logistic(x, liked / np.maximum(total, 1e-300), l2=CLASS_L2, prior=pull_to, steps=NEWTON_STEPS,
                                      weight=total, start=weights[k])
        prior = responsibilities.mean(0)
        updated = _posterior(_class_log_likelihoods((with_bias @ weights.T)[items], labels, owner, users), prior)
        # Both must settle: with one class the responsibilities never move, and the weights
        # need more rounds of NEWTON_STEPS steps.
        change = max(np.abs(updated - responsibilities).max(), np.abs(weights - before).max())
        responsibilities = updated
        if change < EM_TOLERANCE:
            break
    return weights, responsibilities.mean(0)


def latent_class_scorer(vectors, weights, prior):
    """The mixture's log-odds of a like for each candidate, the classes weighed by the history."""
    vectors = np.asarray(vectors, np.float64)

    def score(h_items, h_labels, candidates):
        h = _with_bias(vectors[np.asarray(h_items)])
        labels = np.asarray(h_labels, np.float64)
        owner = np.zeros(len(labels), dtype=int)
        posterior = _posterior(_class_log_likelihoods(h @ weights.T, labels, owner, 1), prior)[0]
        like = 1.0 / (1.0 + np.exp(-(_with_bias(vectors[np.asarray(candidates)]) @ weights.T)))
        q = np.clip(like @ posterior, 1e-12, 1 - 1e-12)
        return np.log(q) - np.log1p(-q)
    return score


def tune_latent_classes(train_dataset, grid=CLASS_GRID, seed=0, max_users=300):
    """The number of classes, chosen on training users only: fitted on half of them, and at most
    `max_users` of the other half scored under EVAL-1 (n by the tenant rule). (K, {K: pairwise})."""
    fitted_on, held_out = split_users(sorted(train_dataset.users), 0.5, seed)
    pool = subset(train_dataset, fitted_on)
    _, users = choose_history_size(subset(train_dataset, held_out))
    results = {}
    for k in grid:
        weights, prior = fit_latent_classes(pool, k, seed)
        results[k] = evaluate(latent_class_scorer(train_dataset.vectors, weights, prior), users[:max_users])["pairwise"]
    return max(results, key=results.get), results


def latent_class_part(train, test, seed=0):
    """(the latent-class scorer fitted on every training user for `test`'s vectors, memoized; K,
    chosen on training users; {K: pairwise on the held-out training users})."""
    k, results = tune_latent_classes(train, seed=seed)
    weights, prior = fit_latent_classes(train, k, seed)
    return memoized(latent_class_scorer(test.vectors, weights, prior)), k, results


def latent_class_scorers(test_users, regression_and_rate, co_likes, part):
    """{name: scorer} of the latent classes (latent_class_part) alone and beside the regression,
    the rate (baselines.regression_and_rate_scorers) and the co-likes (None where the tenant has
    none), the shrink and both weights the best pairwise on `test_users` (an upper bound, as the
    other sums are)."""
    scorer, k, _ = part
    (shrink, c, w), summed = upper_bound_sum(test_users, regression_and_rate,
                                             [(co_likes, (0.0, *CO_LIKE_WEIGHTS)), (scorer, LATENT_CLASS_WEIGHTS)])
    return {
        f"latent classes ({k} classes of users, each a logistic regression over item vectors, chosen on training users; "
        "EM)": scorer,
        f"per-user logistic regression (shrink {shrink}) + item like rate + {c:g} x co-likes + {w:g} x latent classes "
        "(shrink and weights chosen on the test users: an upper bound)": summed,
    }


def user_log_likelihoods(weights, prior, dataset):
    """([users]: each of the dataset's users' log-likelihood of all their labels under the
    mixture, log sum_k prior_k P(labels | class k), in sorted user order; the labels counted)."""
    items, labels, owner, users = _rows(dataset, max_rows=np.inf)
    by_class = _class_log_likelihoods(_with_bias(dataset.vectors[items].astype(np.float64)) @ weights.T, labels, owner, users)
    by_class = by_class + np.log(np.asarray(prior) + 1e-12)
    top = by_class.max(1)
    return top + np.log(np.exp(by_class - top[:, None]).sum(1)), len(labels)
