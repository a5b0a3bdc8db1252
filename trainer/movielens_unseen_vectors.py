"""MovieLens with item vectors that no trained-on or evaluated user shaped (issue 14).

../shared/data/movielens-100k builds 32 of its 52 vector dimensions from an SVD of the training
users' likes and dislikes. Test users never shape them, but the users a model trains on do, so
training sees users whose tastes the vectors fit better than anyone new: the per-user
regression scores 85.7 pairwise on training users at shrink 0.3 and 80.5 on test users, and a
model learns on training users to trust a short history more than it should. On the platform
vectors come from an image encoder, which no user shapes.

This writes a version without that shift: the training users are split by a hash of the id;
one part (--factor-share) only shapes the SVD factors (computed as convert.py does: the
centred like/dislike matrix, top 32 factors, L2-normalised), the other is the training set,
and the test users stay the test users. The first --keep-dims dimensions (genres and year)
are kept as they are. Every user a model trains on or is evaluated on is then new to the
vectors.

python3 -m trainer.movielens_unseen_vectors --train DIR --test DIR --out DIR [--factor-share 0.5]
  -> DIR/train/, DIR/test/ (preference-dataset format, CONTRACTS.md section 1)
"""
import argparse
import csv
import os
import shutil
import zlib

import numpy as np


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def svd_factors(rows, item_index, factors):
    """convert.py's factors: the top singular directions of the users' centred ±1 matrix."""
    users = sorted({r["user"] for r in rows})
    user_index = {u: i for i, u in enumerate(users)}
    m = np.zeros((len(users), len(item_index)), np.float32)
    for r in rows:
        m[user_index[r["user"]], item_index[r["item"]]] = 1.0 if r["label"] == "1" else -1.0
    _, s, vt = np.linalg.svd(m - m.mean(axis=0, keepdims=True), full_matrices=False)
    return (vt[:factors].T * s[:factors]).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--factor-share", type=float, default=0.5, help="share of training users who only shape the factors")
    parser.add_argument("--keep-dims", type=int, default=20, help="leading dimensions kept as they are (MovieLens: 19 genres, year)")
    parser.add_argument("--factors", type=int, default=32)
    args = parser.parse_args()

    with open(os.path.join(args.train, "interactions.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(args.train, "items.csv"), newline="") as f:
        item_index = {r["item"]: i for i, r in enumerate(csv.DictReader(f))}
    shapes_factors = lambda user: zlib.crc32(user.encode()) % 1000 < args.factor_share * 1000
    factor_rows = [r for r in rows if shapes_factors(r["user"])]
    vectors = np.load(os.path.join(args.train, "items.npy"))
    vectors = np.hstack([vectors[:, :args.keep_dims], unit(svd_factors(factor_rows, item_index, args.factors))]).astype(np.float32)

    for part, source, keep in (("train", args.train, lambda r: not shapes_factors(r["user"])), ("test", args.test, lambda r: True)):
        out = os.path.join(args.out, part)
        os.makedirs(out, exist_ok=True)
        np.save(os.path.join(out, "items.npy"), vectors)
        shutil.copy(os.path.join(source, "items.csv"), os.path.join(out, "items.csv"))
        with open(os.path.join(source, "interactions.csv"), newline="") as f:
            reader = csv.DictReader(f)
            part_rows = [r for r in reader if keep(r)]
            fields = reader.fieldnames
        with open(os.path.join(out, "interactions.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part_rows)
        print(f"{out}: {len({r['user'] for r in part_rows})} users, {len(part_rows)} interactions")
    print(f"factors from {len({r['user'] for r in factor_rows})} other training users ({len(factor_rows)} interactions); vectors {vectors.shape}")


if __name__ == "__main__":
    main()
