import csv
import io
import os
import tempfile
import unittest
from contextlib import redirect_stderr

from trainer import bench_fold_composition, bench_train_time
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world

PARTS = ["--ensemble", "0.5", "--item-rates", "auto", "--co-likes", "auto"]


def users_of(folder):
    with open(os.path.join(folder, "interactions.csv"), newline="") as f:
        return {row["user"] for row in csv.DictReader(f)}


class FoldComposition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One seed: a small network with the regression, the rates and the co-likes trained on
        # every training user, and one of the same design on the first fold's half.
        cls.root = tempfile.mkdtemp()
        cls.train, cls.folds = os.path.join(cls.root, "train"), os.path.join(cls.root, "folds")
        taste_world(cls.train, users=80, seed=3)
        taste_world(os.path.join(cls.root, "test"), users=30, seed=3, first_user=1000)
        cls.written = printed_by(bench_fold_composition.main, ["--train", cls.train, "--write-folds", cls.folds, "--seeds", "0"])
        for data, out in ((cls.train, os.path.join(cls.root, "models", "seed0")), (os.path.join(cls.folds, "seed0", "A"), os.path.join(cls.folds, "models", "seed0"))):
            bench_train_time.timed_run(bench_train_time.HERE, data, out, 0, ["--epochs", "1", *SMALL_NETWORK, *PARTS])

    def test_the_folds_split_the_training_users_in_two_halves_with_every_item(self):
        a, b = (users_of(os.path.join(self.folds, "seed0", half)) for half in "AB")
        self.assertEqual(a | b, users_of(self.train))
        self.assertFalse(a & b)
        self.assertLessEqual(abs(len(a) - len(b)), 1)
        for half in "AB":
            self.assertTrue(os.path.exists(os.path.join(self.folds, "seed0", half, "items.npy")))
        self.assertIn(f"--data {self.folds}/seed0/A --out {self.folds}/models/seed0 --seed 0", self.written)

    def test_the_composition_chosen_on_the_fold_is_scored_on_the_test_users_beside_the_model_as_served(self):
        printed = printed_by(bench_fold_composition.main, ["--train", self.train, "--test", os.path.join(self.root, "test"),
                                                            "--models", os.path.join(self.root, "models"), "--folds", self.folds,
                                                            "--seeds", "0", "--n-ref", "4"])
        (row,) = table_rows(printed, "0")
        fold_served, fold_chosen = (float(v) for v in row[2].split(" / "))
        # The fold's choice is the best of the grid there, the model as served among it.
        self.assertGreaterEqual(fold_chosen, fold_served)
        self.assertRegex(row[6], r"\((\d+) of 73\) \|$")
        # The grid moves the scores: its best on the test users beats the model as served there.
        test_served, test_best = float(row[4].split(" / ")[0]), float(row[6].split(" / ")[0])
        self.assertGreater(test_best, test_served)
        for name in ("chosen − served", "chosen − best baseline", "served − best baseline"):
            self.assertEqual([r[1] for r in table_rows(printed, name)], ["pairwise", "top-1"], name)
        if row[3] == "as served":
            self.assertEqual(table_rows(printed, "chosen − served")[0][2].split(" ")[0], "+0.00")
        self.assertIn("command: npm run bench:fold-composition", printed)

    def test_comparing_without_the_folds_is_refused_naming_the_flag(self):
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            bench_fold_composition.parse(["--train", self.train, "--test", self.train, "--models", os.path.join(self.root, "models")])
        self.assertIn("--folds is required", err.getvalue())


if __name__ == "__main__":
    unittest.main()
