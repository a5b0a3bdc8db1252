import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr

from trainer import bench_train_time
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world

SMALL = ["--epochs", "1", *SMALL_NETWORK]


class TrainTime(unittest.TestCase):
    def test_times_each_seed_and_finds_the_same_weights_from_the_same_code(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, seed=2)
        printed = printed_by(bench_train_time.main, ["--data", os.path.join(root, "data"), "--seeds", "0,1", "--against",
                                                     bench_train_time.HERE, "--work", os.path.join(root, "work"), "--", *SMALL])
        table = table_rows(printed, "0") + table_rows(printed, "1")
        self.assertEqual([(row[0], row[1]) for row in table],
                         [("| 0", "this checkout"), ("| 0", "--against"), ("| 1", "this checkout"), ("| 1", "--against")])
        # Same code, same seed: the same weights; wall time includes the training loop.
        self.assertEqual([row[6] for row in table if row[1] == "--against"], ["yes |", "yes |"])
        for row in table:
            self.assertGreater(float(row[2]), float(row[3]))
        self.assertIn("this checkout / --against, medians from start to exit:", printed)
        self.assertTrue(os.path.exists(os.path.join(root, "work", "against", "seed1", "model.onnx")))

    def test_against_flags_time_a_setting_beside_the_command_without_it(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, seed=2)
        printed = printed_by(bench_train_time.main, ["--data", os.path.join(root, "data"), "--seeds", "0", "--against-flags",
                                                     "--autocast bf16", "--work", os.path.join(root, "work"), "--", *SMALL,
                                                     "--autocast", "off"])
        table = table_rows(printed, "0")
        self.assertEqual([row[1] for row in table], ["this checkout", "--against"])
        # The later flag wins: the second trainer trained in bfloat16, other weights than the first's.
        self.assertEqual(table[1][6], "no |")
        with open(os.path.join(root, "work", "against", "seed0", "metrics.json")) as f:
            self.assertEqual(json.load(f)["autocast"]["used"], "bf16")
        self.assertIn('--against-flags "--autocast bf16" -- ', printed)

    def test_two_different_seeds_are_not_the_same_weights(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, seed=2)
        for seed in (0, 1):
            bench_train_time.timed_run(bench_train_time.HERE, os.path.join(root, "data"), os.path.join(root, f"s{seed}"), seed, SMALL)
        self.assertFalse(bench_train_time.same_weights(os.path.join(root, "s0"), os.path.join(root, "s1")))

    def test_flags_the_bench_sets_are_refused_naming_them(self):
        for flags in (["--seed", "3"], ["--out=/tmp/x"], ["--data", "d"]):
            err = io.StringIO()
            with self.assertRaises(SystemExit), redirect_stderr(err):
                bench_train_time.parse(["--data", "d", "--", *flags])
            self.assertIn(f"{flags[0].split('=')[0]}: set by the bench", err.getvalue())
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            bench_train_time.parse(["--data", "d", "--against-flags", "--seed 4", "--", "--epochs", "1"])
        self.assertIn("--seed: set by the bench for each run; --against-flags holds only", err.getvalue())


if __name__ == "__main__":
    unittest.main()
