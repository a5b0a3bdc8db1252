import os
import tempfile
import unittest

import numpy as np
import torch

from trainer.tests.helpers import taste_world, train_small, trainer_refusing
from trainer.vector_noise import VectorNoise, noise_spread


class VectorNoiseTest(unittest.TestCase):
    def test_the_spread_is_the_root_mean_square_deviation_from_the_mean(self):
        vectors = np.array([[1.0, 10.0], [3.0, 10.0]], np.float32)
        # Deviations (-1, 0) and (1, 0): mean square 0.5.
        self.assertAlmostEqual(noise_spread(vectors), np.sqrt(0.5), places=6)
        self.assertAlmostEqual(noise_spread(vectors * 4 + 7), 4 * np.sqrt(0.5), places=5)

    def test_off_returns_the_tensors_themselves_and_draws_nothing(self):
        noise = VectorNoise(np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32), 0.0, seed=1)
        h, pos = torch.randn(3, 5, 4), torch.randn(3, 2, 4)
        out = noise(h, pos)
        self.assertIs(out[0], h)
        self.assertIs(out[1], pos)
        self.assertIsNone(noise.generator)

    def test_the_noise_has_the_share_of_the_spread_asked_for_and_is_seeded(self):
        vectors = 3.0 * np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
        noise = VectorNoise(vectors, 0.5, seed=11)
        self.assertAlmostEqual(noise.sigma, 0.5 * noise_spread(vectors))
        zeros = torch.zeros(200, 16, 8)
        drawn, again = noise(zeros, zeros)
        # Each tensor its own draw, of the asked-for size (about 1.5 here).
        self.assertFalse(torch.equal(drawn, again))
        self.assertAlmostEqual(float(drawn.std()), noise.sigma, delta=0.02 * noise.sigma)
        self.assertAlmostEqual(float(drawn.mean()), 0.0, delta=0.02 * noise.sigma)
        # The same seed, the same noise.
        self.assertTrue(torch.equal(VectorNoise(vectors, 0.5, seed=11)(zeros)[0], drawn))

    def test_a_negative_share_is_refused(self):
        with self.assertRaisesRegex(ValueError, "at least 0"):
            VectorNoise(np.ones((3, 2), np.float32), -0.1, seed=0)

    def test_the_trainer_trains_on_noisy_vectors_and_says_so(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        noisy, _ = train_small(root, "noisy", "--vector-noise", "0.3")
        self.assertEqual(noisy["vector_noise"]["share"], 0.3)
        self.assertGreater(noisy["vector_noise"]["sigma"], 0)
        plain, _ = train_small(root, "plain")
        self.assertEqual(plain["vector_noise"], {"share": 0.0, "sigma": 0.0})
        # Other inputs, other steps: the epochs' losses differ; validation still scores the model.
        self.assertNotEqual([e["loss"] for e in noisy["epochs"]], [e["loss"] for e in plain["epochs"]])
        self.assertGreater(noisy["val_pairwise"], 0)

    def test_the_trainer_refuses_a_negative_share_naming_the_flag(self):
        done = trainer_refusing("--vector-noise", "-0.5")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--vector-noise", done.stderr)


if __name__ == "__main__":
    unittest.main()
