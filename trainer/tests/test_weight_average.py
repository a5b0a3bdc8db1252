import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

from trainer.tests.helpers import taste_world, trainer_refusing
from trainer.weight_average import WeightAverage


class Counter(torch.nn.Module):
    """One weight to average and one integer buffer, which is copied, never averaged."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))


class MovingAverage(unittest.TestCase):
    def test_the_decay_spans_the_given_epochs(self):
        self.assertAlmostEqual(WeightAverage(Counter(), 2, 50).decay, 0.99)
        self.assertAlmostEqual(WeightAverage(Counter(), 0.5, 400).decay, 0.995)

    def test_follows_the_recurrence_with_its_warm_up(self):
        model = Counter()
        average = WeightAverage(model, 1, 20)   # decay 0.95: the plain mean for the first 20 steps
        expected = torch.zeros(2)
        for t in range(1, 301):
            with torch.no_grad():
                model.w.fill_(float(t % 7))
                model.seen.fill_(t)
            average.update(model)
            decay = min(0.95, 1 - 1 / t)
            expected = decay * expected + (1 - decay) * model.w.detach()
        self.assertTrue(torch.allclose(average.state_dict()["w"], expected, atol=1e-5))
        self.assertEqual(int(average.state_dict()["seen"]), 300)

    def test_weights_that_stay_put_are_their_own_average(self):
        model = Counter()
        with torch.no_grad():
            model.w.copy_(torch.tensor([1.5, -2.0]))
        average = WeightAverage(model, 3, 10)
        for _ in range(50):
            average.update(model)
        self.assertTrue(torch.allclose(average.state_dict()["w"], torch.tensor([1.5, -2.0])))

    def test_applied_swaps_the_average_in_and_back_even_on_failure(self):
        model = Counter()
        average = WeightAverage(model, 10, 10)
        for value in (2.0, 4.0, 9.0):             # within the span: the plain mean, 5
            with torch.no_grad():
                model.w.fill_(value)
            average.update(model)
        with average.applied(model):
            self.assertTrue(torch.allclose(model.w, torch.full((2,), 5.0)))
        self.assertTrue(torch.equal(model.w.detach(), torch.full((2,), 9.0)))
        with self.assertRaises(RuntimeError):
            with average.applied(model):
                raise RuntimeError("validation failed")
        self.assertTrue(torch.equal(model.w.detach(), torch.full((2,), 9.0)))

    def test_the_span_not_the_warm_up_sets_how_far_back_it_reaches(self):
        # Spans of 1 and 3 epochs must differ well inside the first epochs a trainer keeps.
        short, long = Counter(), Counter()
        averages = [WeightAverage(m, e, 40) for m, e in ((short, 1), (long, 3))]
        for t in range(1, 161):                    # four epochs of 40 steps, the weight rising
            for model, average in zip((short, long), averages):
                with torch.no_grad():
                    model.w.fill_(float(t))
                average.update(model)
        recent, far = (float(a.state_dict()["w"][0]) for a in averages)
        self.assertGreater(recent - far, 30.0)      # 122 against 84 (the (1 + t) / (10 + t) warm-up: equal)

    def test_a_span_of_zero_is_refused(self):
        with self.assertRaisesRegex(ValueError, "epochs: expected a positive span, got 0"):
            WeightAverage(Counter(), 0, 10)


class TrainerKeepsTheAverage(unittest.TestCase):
    """trainer.train --average-epochs E validates and keeps the averaged weights: with the same
    seed the raw weights follow the same path, so only the averaging can change what is kept."""

    def train(self, root, out, *extra):
        subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, out),
                        "--epochs", "3", "--width", "16", "--layers", "1", "--max-episodes", "400", *extra],
                       check=True, capture_output=True, text=True)
        with open(os.path.join(root, out, "metrics.json")) as f:
            metrics = json.load(f)
        return metrics, torch.load(os.path.join(root, out, "ckpt.pt"), map_location="cpu")["state_dict"]

    def test_the_kept_weights_are_the_average(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=60, seed=2)
        plain_metrics, plain = self.train(root, "plain")
        averaged_metrics, averaged = self.train(root, "averaged", "--average-epochs", "1")
        self.assertIsNone(plain_metrics["average_epochs"])
        self.assertEqual(averaged_metrics["average_epochs"], 1)
        self.assertEqual([e["loss"] for e in plain_metrics["epochs"]], [e["loss"] for e in averaged_metrics["epochs"]])
        self.assertFalse(all(torch.equal(plain[k], averaged[k]) for k in plain))

    def test_a_negative_span_is_refused(self):
        done = trainer_refusing("--average-epochs", "-1")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--average-epochs: expected a span of epochs of at least 0, got -1", done.stderr)


if __name__ == "__main__":
    unittest.main()
