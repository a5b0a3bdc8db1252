import unittest

import torch

from trainer.model import ModelConfig, PreferenceModel
from trainer.throughput import measure


class ThroughputTest(unittest.TestCase):
    def test_rows_per_batch_size_are_consistent(self):
        model = PreferenceModel(ModelConfig(embedding_dim=8, width=16, heads=2, encoder_layers=1, decoder_layers=1, preference_tokens=3))
        model.eval()
        rows = measure(model, torch.device("cpu"), [1, 4], history=5, candidates=7, seconds=0.05)
        self.assertEqual([r[0] for r in rows], [1, 4])
        for users, ms, per_user, rate in rows:
            self.assertGreater(ms, 0)
            self.assertAlmostEqual(per_user, ms / users)
            self.assertAlmostEqual(rate, users * 7 * 1000 / ms)


if __name__ == "__main__":
    unittest.main()
