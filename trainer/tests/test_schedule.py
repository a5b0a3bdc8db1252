import os
import subprocess
import sys
import tempfile
import unittest

import torch

from trainer.schedule import one_cycle
from trainer.tests.helpers import taste_world


def rates(total_steps, schedule=one_cycle):
    """The learning rate of each of `total_steps` steps under `schedule`, max rate 1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = schedule(optimizer, 1.0, total_steps)
    seen = []
    for _ in range(total_steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def torchs(optimizer, max_lr, total_steps):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=0.1)


class OneCycle(unittest.TestCase):
    def test_ten_steps_warm_up_for_one_step_then_anneal(self):
        with self.assertRaises(ZeroDivisionError):
            rates(10, torchs)  # why the schedule exists: torch's own at 10 steps
        seen = rates(10)
        self.assertAlmostEqual(seen[0], 1.0 / 25)  # OneCycleLR's starting rate
        self.assertAlmostEqual(max(seen), seen[1], places=2)
        self.assertEqual(seen[1:], sorted(seen[1:], reverse=True))
        self.assertEqual(rates(11)[0], seen[0])

    def test_every_other_length_is_scheduled_as_torch_does(self):
        for total in [1, 2, 3, 5, 9, 11, 12, 19, 20, 21, 40, 137]:
            self.assertEqual(rates(total), rates(total, torchs), total)


class TheTrainer(unittest.TestCase):
    def test_a_network_of_exactly_ten_steps_trains(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=20, seed=5)
        # 14 training users x 5 episodes at batch 7: 10 steps in one epoch.
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"),
                               "--out", os.path.join(root, "m"), "--epochs", "1", "--width", "16", "--layers", "1",
                               "--episodes-per-user", "5", "--batch", "7", "--val-share", "0.3"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertIn("14 training users", done.stdout + done.stderr)
        self.assertTrue(os.path.exists(os.path.join(root, "m", "model.onnx")))
