import os
import subprocess
import sys
import tempfile
import unittest

import onnx

from .helpers import taste_world


class Export(unittest.TestCase):
    def test_opset_io_names_and_metadata(self):
        out = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "trainer.fixture", "--out", out], check=True, capture_output=True)
        model = onnx.load(os.path.join(out, "model.onnx"))
        onnx.checker.check_model(model)
        self.assertGreaterEqual(next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
        self.assertEqual([i.name for i in model.graph.input], ["history", "history_label", "history_mask", "candidates"])
        self.assertEqual([o.name for o in model.graph.output], ["logits", "user_embedding"])
        types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
        self.assertEqual(types, {"history": onnx.TensorProto.FLOAT, "history_label": onnx.TensorProto.INT64,
                                 "history_mask": onnx.TensorProto.BOOL, "candidates": onnx.TensorProto.FLOAT})
        meta = {p.key: p.value for p in model.metadata_props}
        for key in ("embedding_dim", "preference_tokens", "model_version", "trained_at", "eval_pairwise"):
            self.assertIn(key, meta)
        self.assertEqual(meta["embedding_dim"], "8")


class QuietExport(unittest.TestCase):
    """The nightly job logs what a trainer that succeeded wrote on stderr as a warning
    (trainer-process.ts), so a run with the nightly's design writes no warning of torch's own
    there: the exporter's harmless ones (export.HARMLESS_EXPORT_WARNINGS) are silenced."""

    def test_a_nightly_design_run_writes_no_torch_warning(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=80, seed=3)
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, "m"),
                               "--epochs", "1", "--width", "16", "--layers", "1", "--tokens", "4", "--token-attention", "cross",
                               "--ensemble", "auto", "--item-rates", "crossfit", "--crossfit-networks", "1", "--crossfit-epochs", "1",
                               "--co-likes", "auto", "--latent-classes", "auto", "--choice-prior", "auto", "--quiet"],
                              check=True, capture_output=True, text=True)
        self.assertNotIn("Warning", done.stderr)
        self.assertTrue(os.path.exists(os.path.join(root, "m", "model.onnx")))


if __name__ == "__main__":
    unittest.main()
