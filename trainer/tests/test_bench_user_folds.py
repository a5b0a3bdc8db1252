import io
import os
import tempfile
import unittest
from contextlib import redirect_stderr

from trainer import bench_user_folds, bench_train_time, bench_versus
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world


class Folds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Two folds of two small worlds, two seeds of a small network trained on each.
        cls.root = tempfile.mkdtemp()
        cls.folds = []
        for name, seed in (("a", 2), ("b", 3)):
            folder = os.path.join(cls.root, name)
            taste_world(os.path.join(folder, "train"), users=40, seed=seed)
            taste_world(os.path.join(folder, "test"), users=30 if name == "a" else 24, seed=seed, first_user=1000)
            # models/: one epoch; other/: two, the same seeds (another design to pair with it).
            for sub, epochs in (("models", "1"), ("other", "2")):
                for k in (0, 1):
                    bench_train_time.timed_run(bench_train_time.HERE, os.path.join(folder, "train"), os.path.join(folder, sub, f"seed{k}"),
                                               k, ["--epochs", epochs, *SMALL_NETWORK])
            cls.folds.append(folder)
        a = cls.folds[0]
        cls.versus = printed_by(bench_versus.main, ["--train", os.path.join(a, "train"), "--test", os.path.join(a, "test"),
                                                    "--models", os.path.join(a, "models"), "--against", os.path.join(a, "models"),
                                                    "--seeds", "0,1", "--every-baseline"])

    def bench(self, *folds):
        return printed_by(bench_user_folds.main, ["--folds", ",".join(folds), "--seeds", "0,1"])

    def test_one_fold_twice_gives_that_folds_levels_as_bench_versus_does(self):
        a = self.folds[0]
        printed = self.bench(a, a)
        models = table_rows(self.versus, "--models")[0]
        pairwise, top1 = (float(cell.split(" ")[0]) for cell in models[1:3])
        level = table_rows(printed, "the models themselves")[0][2]
        self.assertEqual(level, f"{pairwise:.2f} / {top1:.2f}")
        for metric in ("pairwise", "top-1"):
            # "| best METRIC baseline: NAME | LEVEL (METRIC) | |"
            line = next(line for line in self.versus.splitlines() if line.startswith(f"| best {metric} baseline: "))
            name, level = line.split(": ", 1)[1].split(" | ")[:2]
            best = [row for row in table_rows(printed, f"the best over all folds: {name}") if row[1] == metric]
            self.assertEqual(len(best), 1, name)
            self.assertEqual(f"{best[0][2]} ({metric})", level)
            per_fold = [row for row in table_rows(printed, "each fold's best (the issue's target, fold by fold)") if row[1] == metric]
            self.assertEqual(per_fold[0][2:4], best[0][2:4])
            # The same difference over users as bench_versus's against the best (its standard
            # error smaller: each user counted twice).
            versus = [row for row in table_rows(self.versus, "--models − best baseline") if row[1] == metric][0]
            self.assertEqual(best[0][3].split(" ± ")[0], versus[2].split(" ± ")[0])

    def test_the_folds_users_are_pooled(self):
        printed = self.bench(*self.folds)
        fold_rows = [row for row in (line.split(" | ") for line in printed.splitlines()) if row[0].endswith(" pairwise")]
        per_fold = {row[0]: int(row[1]) for row in fold_rows}
        self.assertEqual(len(per_fold), 2)
        # The models' level over both folds is their users' mean: each fold's, weighted by its users.
        weighted = sum(int(row[1]) * float(row[2]) for row in fold_rows) / sum(per_fold.values())
        pooled = float(table_rows(printed, "the models themselves")[0][2].split(" / ")[0])
        self.assertAlmostEqual(pooled, weighted, delta=0.01)
        best = table_rows(printed, "each fold's best (the issue's target, fold by fold)")
        self.assertEqual(int(best[0][-1].rstrip(" |")), sum(per_fold.values()))
        self.assertIn(f"{sum(per_fold.values())} test users", printed)
        self.assertIn("command: npm run bench:user-folds", printed)

    def test_against_pairs_another_design_over_every_folds_users(self):
        a = self.folds[0]
        printed = printed_by(bench_user_folds.main, ["--folds", ",".join(self.folds), "--seeds", "0,1", "--against", "other,models"])
        for row in table_rows(printed, "models − models"):
            self.assertTrue(row[2].startswith("+0.00 ± 0.00"), row)
            self.assertEqual(row[4], "the same scores", row)
        self.assertEqual(len(table_rows(printed, "models − other")), 2)
        self.assertIn("--against other,models", printed.splitlines()[-1])
        # One fold given twice: the same mean difference as bench_versus's on that fold alone.
        twice = printed_by(bench_user_folds.main, ["--folds", f"{a},{a}", "--seeds", "0,1", "--against", "other"])
        versus = printed_by(bench_versus.main, ["--train", os.path.join(a, "train"), "--test", os.path.join(a, "test"),
                                                "--models", os.path.join(a, "models"), "--against", os.path.join(a, "other"),
                                                "--seeds", "0,1"])
        ours, theirs = table_rows(twice, "models − other"), table_rows(versus, "--models − --against")
        self.assertEqual([row[1] for row in ours], ["pairwise", "top-1"])
        self.assertFalse(ours[0][2].startswith("+0.00 ± 0.00"), ours)
        self.assertEqual([(row[1], row[2].split(" ± ")[0]) for row in ours], [(row[1], row[2].split(" ± ")[0]) for row in theirs])

    def test_folds_with_other_baseline_rows_are_refused(self):
        with self.assertRaises(SystemExit) as refused:
            bench_user_folds.pooled_rows([(None, [("x", []), ("y", [])]), (None, [("x", [])])])
        self.assertIn("different baseline rows", str(refused.exception))

    def test_a_missing_model_or_a_single_fold_is_refused_naming_the_flag(self):
        for argv, said in ((["--folds", f"{self.folds[0]},{self.folds[1]}", "--seeds", "0,5"], "--models: "),
                           (["--folds", self.folds[0]], "--folds: 1 folder given"),
                           (["--folds", f"{self.folds[0]},{self.folds[1]}", "--seeds", "0,1", "--against", "none"], "--against: "),
                           (["--folds", f"{self.folds[0]},{tempfile.mkdtemp()}", "--seeds", "0,1"], "--folds: ")):
            err = io.StringIO()
            with self.assertRaises(SystemExit), redirect_stderr(err):
                bench_user_folds.parse(argv)
            self.assertIn(said, err.getvalue())


if __name__ == "__main__":
    unittest.main()
