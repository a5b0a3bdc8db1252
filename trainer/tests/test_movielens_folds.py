import csv
import io
import os
import tempfile
import unittest
from contextlib import redirect_stderr

import numpy as np

from trainer import movielens_folds
from trainer.data import read_dataset

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "movielens-100k")


def raw_movielens(root, users=60, items=60, seed=0):
    """A small raw folder in MovieLens 100K's formats: u.data (user, item, rating 1-5, ts; tab
    separated) and u.item (id|title|date|video date|url|19 genre flags)."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "u.data"), "w") as f:
        for u in range(1, users + 1):
            for i in rng.choice(np.arange(1, items + 1), 30, replace=False):
                f.write(f"{u}\t{i}\t{rng.integers(1, 6)}\t{880000000 + int(rng.integers(0, 10**6))}\n")
    with open(os.path.join(root, "u.item"), "w", encoding="latin-1") as f:
        for i in range(1, items + 1):
            genres = "|".join(str(int(g)) for g in rng.integers(0, 2, 19))
            f.write(f"{i}|Film {i} ({1950 + i})|01-Jan-{1950 + i}||http://x/{i}|{genres}\n")
    return root


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_users_of(folder):
    return {r["user"] for r in csv_rows(os.path.join(folder, "test", "interactions.csv"))}


class Folds(unittest.TestCase):
    def test_every_user_is_a_test_user_once_and_fold_0_is_convert_py_split(self):
        root = tempfile.mkdtemp()
        raw = raw_movielens(os.path.join(root, "raw"))
        written = movielens_folds.write_folds(raw, os.path.join(root, "out"), 5)
        tests = [test_users_of(folder) for folder, _ in written]
        everyone = {f"u{u}" for u in range(1, 61)}
        self.assertEqual(set().union(*tests), everyone)
        self.assertEqual(sum(len(t) for t in tests), 60)
        # convert.py's test users: the first fifth of its seeded permutation.
        first = np.random.default_rng(100_000).permutation(np.arange(1, 61))[:12]
        self.assertEqual(tests[0], {f"u{u}" for u in first})
        for folder, _ in written:
            train, test = read_dataset(os.path.join(folder, "train")), read_dataset(os.path.join(folder, "test"))
            self.assertFalse(set(train.users) & set(test.users))
            self.assertEqual(train.vectors.shape, (60, 52))
            np.testing.assert_array_equal(train.vectors, test.vectors)

    def test_a_folds_test_users_do_not_shape_its_vectors(self):
        root = tempfile.mkdtemp()
        raw = raw_movielens(os.path.join(root, "raw"))
        before = movielens_folds.write_folds(raw, os.path.join(root, "before"), 5)
        fold0_test = before[0][1]
        # Every rating of fold 0's test users turned around: fold 0's vectors stay, another fold's move.
        with open(os.path.join(raw, "u.data")) as f:
            rows = [line.split("\t") for line in f]
        with open(os.path.join(raw, "u.data"), "w") as f:
            for u, i, r, t in rows:
                f.write("\t".join((u, i, str(6 - int(r)) if int(u) in fold0_test else r, t)))
        after = movielens_folds.write_folds(raw, os.path.join(root, "after"), 5)
        vectors = lambda written, f: np.load(os.path.join(written[f][0], "train", "items.npy"))
        np.testing.assert_array_equal(vectors(before, 0), vectors(after, 0))
        self.assertFalse(np.allclose(vectors(before, 1), vectors(after, 1)))

    def test_one_fold_is_refused_naming_the_flag(self):
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            movielens_folds.main(["--raw", tempfile.mkdtemp(), "--out", tempfile.mkdtemp(), "--folds", "1"])
        self.assertIn("--folds: 1 leaves no training users", err.getvalue())
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            movielens_folds.main(["--raw", os.path.join(tempfile.mkdtemp(), "none"), "--out", tempfile.mkdtemp()])
        self.assertIn("--raw: ", err.getvalue())
        self.assertIn("u.data not found", err.getvalue())

    @unittest.skipUnless(os.path.isdir(os.path.join(SHARED, "raw")), "MovieLens 100K is not on this machine (../shared/data)")
    def test_fold_0_of_movielens_is_the_shared_split(self):
        out = tempfile.mkdtemp()
        movielens_folds.write_folds(os.path.join(SHARED, "raw"), out, 5)
        for part in ("train", "test"):
            for name in ("interactions.csv", "items.csv"):
                with open(os.path.join(out, "fold0", part, name), "rb") as a, open(os.path.join(SHARED, part, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), f"{part}/{name}")
            ours, theirs = np.load(os.path.join(out, "fold0", part, "items.npy")), np.load(os.path.join(SHARED, part, "items.npy"))
            # An item no training user rated has factors of rounding noise, normalised to unit
            # length: which direction depends on the BLAS that computed the SVD. Every other item
            # is the same vector, up to each factor's sign (an SVD's factors have none of their own).
            rated = {r["item"] for r in csv_rows(os.path.join(SHARED, "train", "interactions.csv"))}
            ids = [r["item"] for r in csv_rows(os.path.join(SHARED, part, "items.csv"))]
            keep = np.array([i in rated for i in ids])
            self.assertGreater(keep.sum(), 1600)
            signs = np.sign((ours[keep] * theirs[keep]).sum(axis=0))
            np.testing.assert_allclose(ours[keep] * signs, theirs[keep], atol=1e-5)
            np.testing.assert_array_equal(ours[:, :20], theirs[:, :20])


if __name__ == "__main__":
    unittest.main()
