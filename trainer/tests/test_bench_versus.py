import io
import os
import shutil
import tempfile
import unittest
from contextlib import redirect_stderr

from trainer import bench_train_time, bench_versus
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world


class Versus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Two seeds of a small network in a/, and in b/ the same seed 0 with seed 1 trained as seed 2.
        cls.root = tempfile.mkdtemp()
        cls.printed = {}
        taste_world(os.path.join(cls.root, "train"), users=40, seed=2)
        taste_world(os.path.join(cls.root, "test"), users=30, seed=2, first_user=1000)
        for folder, seeds in (("a", (0, 1)), ("b", (None, 2))):
            for k, seed in enumerate(seeds):
                out = os.path.join(cls.root, folder, f"seed{k}")
                if seed is None:
                    shutil.copytree(os.path.join(cls.root, "a", "seed0"), out)
                else:
                    bench_train_time.timed_run(bench_train_time.HERE, os.path.join(cls.root, "train"), out, seed,
                                               ["--epochs", "1", *SMALL_NETWORK])

    def run_bench(self, against):
        # The bench is deterministic (its bootstrap is seeded), so each --against is run once for
        # every test that reads it: each run fits all the baselines again.
        if against not in self.printed:
            self.printed[against] = self.bench_output(against)
        return self.printed[against]

    def bench_output(self, against):
        return printed_by(bench_versus.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                              "--models", os.path.join(self.root, "a"), "--against", os.path.join(self.root, against),
                                              "--seeds", "0,1"])

    def test_a_set_against_itself_differs_by_nothing(self):
        differences = table_rows(self.run_bench("a"), "--models − --against")
        self.assertEqual([row[1] for row in differences], ["pairwise", "top-1"])
        for row in differences:
            self.assertTrue(row[2].startswith("+0.00 ± 0.00"), row)
            # Not a lead: 0 is not beyond 2 x 0 standard errors.
            self.assertEqual(row[4], "the same scores", row)

    def test_other_weights_differ_and_each_set_is_put_beside_the_best_baseline(self):
        printed = self.run_bench("b")
        pairwise = table_rows(printed, "--models − --against")[0]
        self.assertFalse(pairwise[2].startswith("+0.00 ± 0.00"), pairwise)
        self.assertIn(pairwise[4], ("beyond 2 SE", "within 2 SE"))
        self.assertEqual(len(table_rows(printed, "--models − best baseline")), 2)
        self.assertEqual(len(table_rows(printed, "--against − best baseline")), 2)
        self.assertIn("command: npm run bench:versus", printed)

    def test_several_against_folders_each_get_the_difference_they_would_alone(self):
        a, b = os.path.join(self.root, "a"), os.path.join(self.root, "b")
        printed = printed_by(bench_versus.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                                 "--models", a, "--against", f"{a},{b}", "--seeds", "0,1"])
        alone = {against: table_rows(self.run_bench(against), "--models − --against") for against in ("a", "b")}
        for against, folder in (("a", a), ("b", b)):
            self.assertEqual([row[1:] for row in table_rows(printed, f"--models − {folder}")], [row[1:] for row in alone[against]])
            self.assertEqual(len(table_rows(printed, f"{folder} − best baseline")), 2)
        self.assertEqual(len(table_rows(printed, "--models − best baseline")), 2)

    def test_every_baseline_puts_the_models_against_each_row_as_against_the_best(self):
        printed = printed_by(bench_versus.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                                 "--models", os.path.join(self.root, "a"), "--against", os.path.join(self.root, "b"),
                                                 "--seeds", "0,1", "--every-baseline"])
        best = {row[1]: row for row in table_rows(printed, "--models − best baseline")}
        # "| best METRIC baseline: NAME | level (METRIC) | |"
        best_names = [(line.split(": ", 1)[1].split(" | ")[0], line.split(" ")[2])
                      for line in printed.splitlines() if line.startswith("| best ")]
        self.assertEqual(sorted(metric for _, metric in best_names), ["pairwise", "top-1"])
        global_rows = table_rows(printed, "global preference (logistic regression, no history)")
        self.assertEqual([row[1] for row in global_rows], ["pairwise", "top-1"])
        for name, metric in best_names:
            row = [r for r in table_rows(printed, name) if r[1] == metric]
            self.assertEqual(len(row), 1, name)
            # The same difference, interval and verdict as the best baseline's own row.
            self.assertEqual(row[0][3:], best[metric][2:], name)
        self.assertIn("--every-baseline", printed.splitlines()[-1])
        self.assertNotIn("| global preference (logistic regression, no history) |", self.run_bench("b"))

    def test_cold_scores_the_models_without_histories_and_the_against_set_with_them(self):
        a = os.path.join(self.root, "a")
        printed = printed_by(bench_versus.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                                 "--models", a, "--against", a, "--seeds", "0,1", "--cold"])
        self.assertIn("--models with no history", printed)
        self.assertTrue(printed.splitlines()[-1].endswith("--cold"))
        # The same weights: what the histories add is the whole difference, and it is not nothing.
        warm = self.run_bench("a")
        self.assertEqual(table_rows(printed, "--against"), table_rows(warm, "--against"))
        self.assertNotEqual(table_rows(printed, "--models"), table_rows(warm, "--models"))
        differences = table_rows(printed, "--models − --against")
        self.assertFalse(any(row[2].startswith("+0.00 ± 0.00") for row in differences), differences)

    def test_against_cold_withholds_the_against_sets_histories_too_so_the_floors_are_paired(self):
        a = os.path.join(self.root, "a")
        both = printed_by(bench_versus.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                              "--models", a, "--against", a, "--seeds", "0,1", "--cold", "--against-cold"])
        self.assertIn("--against with no history", both)
        self.assertTrue(both.splitlines()[-1].endswith("--cold --against-cold"))
        # The same weights, both without histories: no difference, and --against's level is --models' cold one.
        for row in table_rows(both, "--models − --against"):
            self.assertTrue(row[2].startswith("+0.00 ± 0.00"), row)
        cold_models = table_rows(both, "--models")[0][1:]
        self.assertEqual(table_rows(both, "--against")[0][1:], cold_models)
        self.assertNotEqual(table_rows(self.run_bench("a"), "--against")[0][1:], cold_models)

    def test_a_missing_seed_is_refused_naming_the_flag(self):
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            bench_versus.parse(["--train", "t", "--test", "t", "--models", os.path.join(self.root, "a"),
                                "--against", os.path.join(self.root, "a"), "--seeds", "0,5"])
        self.assertIn("--models: ", err.getvalue())
        self.assertIn("seed5", err.getvalue())
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            bench_versus.parse(["--train", "t", "--test", "t", "--models", os.path.join(self.root, "a"),
                                "--against", os.path.join(self.root, "a") + "," + os.path.join(self.root, "c"), "--seeds", "0,1"])
        self.assertIn("--against: " + os.path.join(self.root, "c", "seed0", "ckpt.pt") + " not found", err.getvalue())


if __name__ == "__main__":
    unittest.main()
