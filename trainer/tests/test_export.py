import os
import subprocess
import sys
import tempfile
import unittest

import onnx


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


if __name__ == "__main__":
    unittest.main()
