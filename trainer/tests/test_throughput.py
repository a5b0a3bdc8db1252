import unittest

import torch

from trainer.export import example_inputs, load_checkpoint
from trainer.model import ModelConfig, PreferenceModel
from trainer.throughput import DEFAULT_CHECKPOINT, measure


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

    def test_the_shipped_model_runs_in_lower_precision(self):
        # --half on a GPU failed on the shipped model (session 33): float32 masks and weights met
        # float16 ones. Debian's torch has no float16 matrix products on the CPU, and bfloat16
        # meets the same mixing, so it stands in here.
        model, _ = load_checkpoint(DEFAULT_CHECKPOINT)
        model.eval()
        feeds = example_inputs(model.config.embedding_dim, 4, 16, 50)
        with torch.no_grad():
            full = model(*feeds)[0]
            low = model.to(torch.bfloat16)(feeds[0].bfloat16(), feeds[1], feeds[2], feeds[3].bfloat16())[0]
        self.assertEqual(low.dtype, torch.bfloat16)
        # bfloat16 keeps 8 bits of mantissa: within a few hundredths of logits of a few units.
        self.assertLess((low.float() - full).abs().max().item(), 0.02 * full.abs().max().item() + 0.05)
        rows = measure(model, torch.device("cpu"), [2], history=5, candidates=7, seconds=0.05, dtype=torch.bfloat16)
        self.assertEqual(rows[0][0], 2)


if __name__ == "__main__":
    unittest.main()
