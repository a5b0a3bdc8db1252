import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr

import numpy as np

from trainer import bench_devices
from trainer.tests.helpers import SMALL_NETWORK, printed_by, table_rows, taste_world


class Devices(unittest.TestCase):
    def test_a_row_per_device_and_batch_from_the_epochs_after_the_first(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, seed=2)
        printed = printed_by(bench_devices.main, ["--data", os.path.join(root, "data"), "--devices", "cpu", "--batches", "16,64",
                                                  "--epochs", "3", "--work", os.path.join(root, "work"), "--", *SMALL_NETWORK])
        rows = table_rows(printed, "cpu")
        self.assertEqual([row[1] for row in rows], ["16", "64"])
        for row, batch in zip(rows, (16, 64)):
            with open(os.path.join(root, "work", f"cpu-batch{batch}", "metrics.json")) as f:
                metrics = json.load(f)
            # Each epoch of each run is timed; the steady epoch is the median of the second and third.
            self.assertEqual(len(metrics["epoch_seconds"]), 3)
            self.assertAlmostEqual(sum(metrics["epoch_seconds"]), metrics["train_seconds"])
            self.assertEqual(row[4], f"{np.median(metrics['epoch_seconds'][1:]):.2f}")
            episodes = metrics["episodes_per_second"] * metrics["train_seconds"] / 3
            self.assertEqual(int(row[2]), -(-round(episodes) // batch))
            self.assertEqual(row[7], "1.0x")   # the first device against itself
        self.assertIn("command: npm run bench:devices -- --data", printed)

    def test_bad_arguments_are_refused_naming_the_flag(self):
        for argv, named in ((["--devices", "tpu"], "--devices"), (["--batches", "128,x"], "--batches"),
                            (["--batches", "0"], "--batches"), (["--epochs", "1"], "--epochs"),
                            (["--", "--batch", "64"], "--batch: set by the bench"), (["--", "--device=cpu"], "--device: set by the bench")):
            err = io.StringIO()
            with self.assertRaises(SystemExit), redirect_stderr(err):
                bench_devices.parse(["--data", "d", *argv])
            self.assertIn(named, err.getvalue())


if __name__ == "__main__":
    unittest.main()
