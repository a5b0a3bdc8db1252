"""How well trained models' user embeddings find a synthetic world's taste groups, offline: each
test user's embedding as the platform computes it (their latest EMBEDDING_HISTORY_PER_KIND likes
and dislikes, 32 of each by default), k-means at the world's number of groups and at the k that
silhouette chooses, and the adjusted Rand index (ARI) against the groups in the test folder's
users.csv (written by `npm run synth`).

npm run bench:group-ari -- --test W/test --models DIR --seeds 0,1,2 [--per-kind 32] [--k-max 8] [--points platform|raw]   (python3 -m trainer.bench_group_ari)

k is chosen as the platform chooses it (src/clustering/choose-k.ts): the smallest k of 2..k-max
whose silhouette is within 0.02 of the best. The points are what the platform groups
(src/services/taste-group.service.ts): the taste half of each embedding where its other half is
the tokens' activations (src/clustering/tokens.ts's layout), each row scaled to unit length.
Until session 55 this bench clustered the whole embedding as the model gave it, which differed
from the platform's figures (session 54: 0.695 offline, 0.876 through the platform); `--points
raw` still does.
"""
import argparse
import os
from types import SimpleNamespace

import numpy as np
import torch

from .bench_train_time import integers
from .bench_versus import check_checkpoints
from .clustering import adjusted_rand_index, kmeans, silhouette
from .data import read_dataset
from .evaluate import user_embeddings
from .export import load_checkpoint

# src/clustering/choose-k.ts's SILHOUETTE_TOLERANCE: fewer groups are easier to read.
SILHOUETTE_TOLERANCE = 0.02


def latest_history(rows, per_kind):
    """The latest `per_kind` likes and the latest `per_kind` dislikes, as the platform reads a
    user's history for their embedding, in time order."""
    ordered = sorted(rows, key=lambda r: (r.ts, r.line))
    likes = [r for r in ordered if r.label == 1][-per_kind:]
    dislikes = [r for r in ordered if r.label == 0][-per_kind:]
    return likes + dislikes


def embeddings(model, vectors, histories):
    """[users, E]: the model's user embedding of each history (evaluate.user_embeddings, which
    reads an EvalUser's history)."""
    with torch.no_grad():
        return user_embeddings(model, vectors, [SimpleNamespace(history=rows) for rows in histories])


def is_distribution(x):
    """Whether every row is non-negative and sums to 1 (tokens.ts's isDistribution)."""
    return len(x) > 0 and x.shape[1] > 0 and bool(np.all(x >= -1e-6)) and bool(np.all(np.abs(x.sum(1) - 1) <= 1e-3))


def platform_points(x):
    """[users, taste dims]: what the platform groups, from embeddings [users, E]: the first half
    where the second half is the token activations (the whole row otherwise), at unit length
    (zero rows stay zero), as tokens.ts's layoutOf and nearest.ts's normalizeRows."""
    half = x.shape[1] // 2
    taste = x[:, :half] if x.shape[1] % 2 == 0 and is_distribution(x[:, half:]) else x
    norms = np.linalg.norm(taste, axis=1, keepdims=True)
    return np.divide(taste, norms, out=np.zeros_like(taste), where=norms > 0)


def chosen_k(x, k_max, seed=0):
    """(k, labels, silhouettes by k): the smallest k of 2..k_max within SILHOUETTE_TOLERANCE of the
    best silhouette, and its k-means labels."""
    runs = {k: kmeans(x, k, seed=seed) for k in range(2, k_max + 1)}
    scores = {k: silhouette(x, labels) for k, labels in runs.items()}
    best = max(scores.values())
    k = min(k for k, s in scores.items() if s >= best - SILHOUETTE_TOLERANCE)
    return k, runs[k], scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test", required=True, help="a synthetic world's test folder, with users.csv")
    parser.add_argument("--models", required=True, help="a folder of seedS/ckpt.pt")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--per-kind", type=int, default=32, help="likes and dislikes each embedding reads (EMBEDDING_HISTORY_PER_KIND)")
    parser.add_argument("--k-max", type=int, default=8, help="the largest k silhouette may choose")
    parser.add_argument("--points", choices=["platform", "raw"], default="platform",
                        help="cluster what the platform groups (the taste half at unit length), or the embedding as the model gives it")
    args = parser.parse_args()
    seeds = integers(parser, "--seeds", args.seeds)
    check_checkpoints(parser, "--models", args.models, seeds)
    if args.per_kind < 1:
        parser.error(f"--per-kind: {args.per_kind} is not a count of likes (1 or more)")
    if args.k_max < 2:
        parser.error(f"--k-max: {args.k_max} leaves no k to choose (2 or more)")
    test = read_dataset(args.test)
    users = sorted(u for u in test.users if u in test.groups)
    if not users:
        parser.error(f"--test: {args.test} has no users.csv with groups (write the world with `npm run synth`)")
    groups = np.array([test.groups[u] for u in users])
    k_true = len(set(groups.tolist()))
    histories = [latest_history(test.users[u], args.per_kind) for u in users]

    print(f"\n### {args.models} on {args.test}: {len(users)} users, {k_true} groups, latest {args.per_kind} + {args.per_kind}\n")
    print(f"| seed | ARI at k = {k_true} | k by silhouette | ARI there | silhouette there |\n|---|---|---|---|---|")
    at_true = []
    for seed in seeds:
        model, _ = load_checkpoint(os.path.join(args.models, f"seed{seed}", "ckpt.pt"))
        x = embeddings(model, test.vectors, histories)
        x = platform_points(x) if args.points == "platform" else x
        ari = adjusted_rand_index(kmeans(x, k_true), groups)
        k, labels, scores = chosen_k(x, args.k_max)
        at_true.append(ari)
        print(f"| {seed} | {ari:.3f} | {k} | {adjusted_rand_index(labels, groups):.3f} | {scores[k]:.3f} |")
    print(f"| mean | {np.mean(at_true):.3f} | | | |")
    print(f"\ncommand: npm run bench:group-ari -- --test {args.test} --models {args.models} --seeds {args.seeds} "
          f"--per-kind {args.per_kind} --k-max {args.k_max} --points {args.points}")


if __name__ == "__main__":
    main()
