import io
import os
import tempfile
import unittest
from contextlib import redirect_stderr

from trainer import bench_served_weights, bench_train_time
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world


class ServedWeights(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One seed of a small network with the regression at a fixed weight, the rates and the
        # co-likes (parts/), and one without any part (plain/).
        cls.root = tempfile.mkdtemp()
        taste_world(os.path.join(cls.root, "train"), users=60, seed=3)
        taste_world(os.path.join(cls.root, "test"), users=30, seed=3, first_user=1000)
        for folder, flags in (("parts", ["--ensemble", "0.5", "--item-rates", "auto", "--co-likes", "auto"]), ("plain", [])):
            bench_train_time.timed_run(bench_train_time.HERE, os.path.join(cls.root, "train"), os.path.join(cls.root, folder, "seed0"), 0,
                                       ["--epochs", "1", *SMALL_NETWORK, *flags])

    def run_bench(self, folder):
        return printed_by(bench_served_weights.main, ["--train", os.path.join(self.root, "train"), "--test", os.path.join(self.root, "test"),
                                                      "--models", os.path.join(self.root, folder), "--seeds", "0"])

    def test_each_weight_of_the_served_model_is_moved_and_its_served_value_changes_nothing(self):
        printed = self.run_bench("parts")
        ensemble = table_rows(printed, "ensemble weight")
        self.assertEqual([row[2] for row in ensemble], ["0", "0.25", "0.5", "0.75", "0.9", "1"])
        # Served at 0.5: that row is the model as served; the others score another model.
        served = next(row for row in ensemble if row[2] == "0.5")
        self.assertEqual(served[1], "0.5")
        self.assertEqual(served[5].rstrip(" |"), "+0.00 / +0.00")
        self.assertTrue(any(row[5].rstrip(" |") != "+0.00 / +0.00" for row in ensemble), ensemble)
        for name in ("regression pull", "item-rate weight", "co-likes weight", "latent-class weight"):
            self.assertTrue(table_rows(printed, name), name)
        self.assertIn("command: npm run bench:served-weights", printed)

    def test_a_model_without_a_part_has_no_rows_for_its_weight_and_gets_the_parts_it_lacks_added(self):
        printed = self.run_bench("plain")
        for name in ("ensemble weight", "regression pull", "item-rate weight"):
            self.assertEqual(table_rows(printed, name), [], name)
        for name in ("co-likes weight", "latent-class weight"):
            rows = table_rows(printed, name)
            self.assertEqual(rows[0][1:3], ["0", "0"], name)
            # Weight 0 adds nothing: the model as served.
            self.assertEqual(rows[0][5].rstrip(" |"), "+0.00 / +0.00")

    def test_a_missing_seed_is_refused_naming_the_flag(self):
        err = io.StringIO()
        with self.assertRaises(SystemExit), redirect_stderr(err):
            bench_served_weights.parse(["--train", "t", "--test", "t", "--models", os.path.join(self.root, "plain"), "--seeds", "0,4"])
        self.assertIn("--models: ", err.getvalue())
        self.assertIn("seed4", err.getvalue())


if __name__ == "__main__":
    unittest.main()
