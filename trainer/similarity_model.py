"""Writes src/ranking/similarity.onnx: one MatMul, vectors [N, D] x columns [D, K] -> scores [N, K].

The API's vector index (src/ranking/vector-index.ts) scores every item of a tenant against a
user's liked items with it: onnxruntime's matrix-vector product is several times faster than
a JavaScript loop over the same Float32Array (npm run bench:vector-index). A large index also
multiplies its items by its partitions' centroids with it (K columns). N, D and K are dynamic,
so one file serves every tenant. The file is committed (a few hundred bytes), so the
API needs no Python; rerun this after changing it:

python3 -m trainer.similarity_model --out src/ranking/similarity.onnx
"""
import argparse

import onnx
from onnx import TensorProto, helper

OPSET = 17


def similarity_model() -> onnx.ModelProto:
    vectors = helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["N", "D"])
    query = helper.make_tensor_value_info("query", TensorProto.FLOAT, ["D", "K"])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", "K"])
    graph = helper.make_graph([helper.make_node("MatMul", ["vectors", "query"], ["scores"])], "similarity", [vectors, query], [scores])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tastegraph")
    model.ir_version = 8  # readable by every onnxruntime-node of the last years
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    onnx.save(similarity_model(), args.out)
    print(f"wrote {args.out}")
