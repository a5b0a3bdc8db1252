"""MovieLens 100K cut into K folds of users, so every user is a test user once (issue 14).

../shared/data/movielens-100k holds out one fifth of the users; EVAL-1 evaluates 92 of them, so a
paired difference has a standard error of about 0.7 pairwise and a 1.5-point lead cannot be told
from noise. Fold f here holds out the f-th fifth of the same seeded permutation instead, and builds
the item vectors exactly as convert.py does from that fold's training users (19 genre flags,
release year scaled to [0, 1], 32 factors of a truncated SVD of the training users' centred
like/dislike matrix, each block L2-normalised), so no fold's test users shape its vectors. Fold 0
is convert.py's split, file for file. Models trained on each fold and scored by
trainer.bench_user_folds (`npm run bench:user-folds`) are then compared with the baselines over every fold's test users at once.

python3 -m trainer.movielens_folds --raw DIR --out DIR [--folds 5] [--seed 100000]
  -> DIR/fold0/{train,test}/ ... DIR/fold{K-1}/{train,test}/ (preference-dataset format,
     CONTRACTS.md section 1). DIR/raw is MovieLens 100K's ml-100k folder (u.data, u.item).
"""
import argparse
import csv
import os

import numpy as np

from .movielens_unseen_vectors import unit

# convert.py's permutation seed: fold 0 is its split.
CONVERT_SEED = 100_000
FACTORS = 32


def read_raw(raw):
    """(ratings [n, 4] user, item, rating, ts in u.data's order; items [(id, title, year, genres)])."""
    ratings = np.loadtxt(os.path.join(raw, "u.data"), dtype=np.int64, ndmin=2)
    items = []
    with open(os.path.join(raw, "u.item"), encoding="latin-1") as f:
        for line in f:
            p = line.rstrip("\n").split("|")
            year = int(p[2][-4:]) if p[2] else 1995
            items.append((int(p[0]), p[1], year, [int(x) for x in p[5:24]]))
    return ratings, items


def fold_test_users(users, folds, seed=CONVERT_SEED):
    """[set of user ids] per fold: consecutive fifths (for folds=5) of convert.py's permutation, the
    last fold taking the remainder, so fold 0 is convert.py's `len(users) // 5` test users."""
    order = np.random.default_rng(seed).permutation(users)
    size = len(users) // folds
    return [set(order[f * size: (f + 1) * size if f < folds - 1 else len(order)].tolist()) for f in range(folds)]


def item_vectors(keep, label, is_train, items, max_user_id):
    """convert.py's vectors from the rows `is_train` marks: genres, year, and the SVD factors of
    the training users' centred ±1 matrix, computed line for line as convert.py does (which sizes
    the matrix by the user count; MovieLens's ids are 1..943, and users without a row drop out)."""
    n_items = len(items)
    m = np.zeros((max_user_id + 1, n_items + 1), dtype=np.float32)
    for (u, i, _, _), l, tr in zip(keep, label, is_train):
        if tr:
            m[u, i] = 1.0 if l else -1.0
    m = m[1:, 1:]
    m = m[m.any(axis=1)]
    _, s, vt = np.linalg.svd(m - m.mean(axis=0, keepdims=True), full_matrices=False)
    svd = (vt[:FACTORS].T * s[:FACTORS]).astype(np.float32)
    genres = np.array([it[3] for it in items], dtype=np.float32)
    years = np.array([[it[2]] for it in items], dtype=np.float32)
    years = (years - years.min()) / (years.max() - years.min())
    return np.hstack([unit(genres), years, unit(svd)]).astype(np.float32)


def write_fold(out, keep, label, test_users, items, vectors):
    """out/train and out/test as convert.py writes them: the same files, rows in u.data's order."""
    for part in ("train", "test"):
        d = os.path.join(out, part)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "items.npy"), vectors)
        with open(os.path.join(d, "items.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["item", "prompt"])
            for it in items:
                w.writerow([f"m{it[0]}", it[1]])
        with open(os.path.join(d, "interactions.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["user", "item", "label", "ts", "pair"])
            for (u, i, _, t), l in zip(keep, label):
                if (u in test_users) == (part == "test"):
                    w.writerow([f"u{u}", f"m{i}", int(l), int(t), ""])


def write_folds(raw, out, folds, seed=CONVERT_SEED):
    """Writes out/fold{f}/{train,test} for every fold; returns [(fold folder, test users)]."""
    ratings, items = read_raw(raw)
    users = np.unique(ratings[:, 0])
    keep = ratings[ratings[:, 2] != 3]
    label = (keep[:, 2] >= 4).astype(np.int64)
    written = []
    for f, test_users in enumerate(fold_test_users(users, folds, seed)):
        is_train = np.array([u not in test_users for u in keep[:, 0]])
        folder = os.path.join(out, f"fold{f}")
        write_fold(folder, keep, label, test_users, items, item_vectors(keep, label, is_train, items, int(users.max())))
        written.append((folder, test_users))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", required=True, help="MovieLens 100K's raw folder (u.data, u.item)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=CONVERT_SEED, help="the permutation's seed (convert.py's by default)")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds: {args.folds} leaves no training users; give 2 or more")
    for path in ("u.data", "u.item"):
        if not os.path.isfile(os.path.join(args.raw, path)):
            parser.error(f"--raw: {os.path.join(args.raw, path)} not found")
    for folder, test_users in write_folds(args.raw, args.out, args.folds, args.seed):
        print(f"{folder}: {len(test_users)} test users")


if __name__ == "__main__":
    main()
