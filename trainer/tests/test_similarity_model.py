import os
import unittest

import onnx

from trainer.similarity_model import similarity_model

COMMITTED = os.path.join(os.path.dirname(__file__), "..", "..", "src", "ranking", "similarity.onnx")


class SimilarityModelTest(unittest.TestCase):
    def test_committed_file_is_what_the_script_writes(self):
        # The API loads the committed file; it must not drift from its source.
        committed = onnx.load(COMMITTED)
        self.assertEqual(committed.graph.SerializeToString(), similarity_model().graph.SerializeToString())
        # What it computes is tested through onnxruntime in test/unit/vector-index.test.ts.


if __name__ == "__main__":
    unittest.main()
