import os
import subprocess
import sys
import tempfile
import unittest

import torch

from trainer.precision import chosen_autocast, emulated, emulation_warning, float32_layer_norms, forward_autocast
from trainer.tests.helpers import SMALL_NETWORK, onnx_metadata, small_network, taste_world, train_small, trainer_refusing

NATIVE = {"avx2", "fma", "avx512f", "avx512_bf16"}
WITHOUT = {"avx2", "fma", "avx512f"}


def a_step(model, mode):
    """One training step's forward pass and backward pass of `model` under `mode`: the loss."""
    history = torch.randn(3, 4, 6)
    labels = torch.tensor([[1, 0, 1, 0]] * 3)
    mask = torch.ones(3, 4, dtype=torch.bool)
    with forward_autocast("cpu", mode):
        logits, _ = model(history, labels, mask, torch.randn(3, 5, 6))
    loss = logits.float().logsumexp(-1).mean()
    loss.backward()
    return loss


class Precision(unittest.TestCase):
    def test_auto_is_bf16_only_on_a_cpu_with_native_bfloat16(self):
        self.assertEqual(chosen_autocast("auto", "cpu", NATIVE), "bf16")
        self.assertEqual(chosen_autocast("auto", "cpu", WITHOUT | {"amx_bf16"}), "bf16")
        self.assertEqual(chosen_autocast("auto", "cpu", WITHOUT), "off")
        self.assertEqual(chosen_autocast("auto", "cpu", set()), "off")
        # CUDA's training was measured in float32 only.
        self.assertEqual(chosen_autocast("auto", "cuda", NATIVE), "off")

    def test_bf16_on_a_cpu_without_native_products_is_emulated_and_warned_of(self):
        self.assertTrue(emulated("bf16", "cpu", WITHOUT))
        self.assertIn("emulated", emulation_warning("bf16", "cpu", WITHOUT))
        self.assertIn("--autocast auto trains in float32 here", emulation_warning("bf16", "cpu", WITHOUT))
        for mode, device, flags in (("bf16", "cpu", NATIVE), ("bf16", "cpu", WITHOUT | {"amx_bf16"}),
                                    ("off", "cpu", WITHOUT), ("bf16", "cuda", WITHOUT)):
            self.assertFalse(emulated(mode, device, flags), (mode, device, flags))
            self.assertIsNone(emulation_warning(mode, device, flags))

    def test_a_setting_given_is_kept(self):
        self.assertEqual(chosen_autocast("bf16", "cpu", WITHOUT), "bf16")
        self.assertEqual(chosen_autocast("off", "cpu", NATIVE), "off")

    def test_the_network_trains_in_bf16_with_its_layer_norms_in_float32(self):
        model = small_network().train()
        # torch 1.13's CPU autocast leaves layer_norm alone: without the hooks a bfloat16 product
        # reaches a float32 LayerNorm.
        with self.assertRaisesRegex(RuntimeError, "BFloat16"):
            a_step(model, "bf16")
        model.zero_grad()
        with float32_layer_norms(model, True):
            loss = a_step(model, "bf16")
        self.assertTrue(torch.isfinite(loss))
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        self.assertTrue(grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads))
        # The products ran in bfloat16: the logits differ from float32's, though not by much.
        model.eval()
        inputs = (torch.randn(2, 4, 6), torch.tensor([[1, 0, 1, 0]] * 2), torch.ones(2, 4, dtype=torch.bool), torch.randn(2, 5, 6))
        with torch.no_grad(), float32_layer_norms(model, True), forward_autocast("cpu", "bf16"):
            low = model(*inputs)[0]
        with torch.no_grad():
            full = model(*inputs)[0]
        self.assertFalse(torch.equal(low.float(), full))
        self.assertTrue(torch.allclose(low.float(), full, atol=0.1))

    def test_the_hooks_are_gone_after_training(self):
        model = small_network()
        with float32_layer_norms(model, True):
            self.assertTrue(any(m._forward_pre_hooks for m in model.modules()))
        self.assertFalse(any(m._forward_pre_hooks for m in model.modules()))

    def test_off_is_float32_throughout(self):
        model = small_network().train()
        with float32_layer_norms(model, False):
            self.assertFalse(any(m._forward_pre_hooks for m in model.modules()))
            self.assertEqual(a_step(model, "off").dtype, torch.float32)

    def test_the_trainer_records_the_precision_it_trained_in(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        bf16, _ = train_small(root, "bf16", "--autocast", "bf16")
        # Whether this machine emulates bfloat16 decides "emulated"; the flags tests above cover both.
        self.assertEqual(bf16["autocast"], {"setting": "bf16", "used": "bf16", "emulated": emulated("bf16", "cpu")})
        exported = onnx_metadata(os.path.join(root, "bf16", "model.onnx"))
        self.assertEqual((exported["autocast"], exported["autocast_setting"]), ("bf16", "bf16"))
        off, _ = train_small(root, "off", "--autocast", "off")
        self.assertEqual(off["autocast"], {"setting": "off", "used": "off", "emulated": False})
        # Other arithmetic, other weights: the epochs' losses differ, validation still scores.
        self.assertNotEqual([e["loss"] for e in bf16["epochs"]], [e["loss"] for e in off["epochs"]])
        self.assertGreater(bf16["val_pairwise"], 0)

    def test_the_trainer_warns_of_an_emulated_bf16_even_when_quiet(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out",
                               os.path.join(root, "out"), "--epochs", "1", *SMALL_NETWORK, "--autocast", "bf16", "--quiet"],
                              check=True, capture_output=True, text=True)
        # Which branch runs is this machine's (the project's machines come with and without it).
        self.assertEqual("--autocast bf16: this CPU lists no native bfloat16" in done.stderr, emulated("bf16", "cpu"))

    def test_an_unknown_setting_is_refused_naming_the_flag(self):
        done = trainer_refusing("--autocast", "fp8")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--autocast", done.stderr)


if __name__ == "__main__":
    unittest.main()
