"""Two models for bench:history-cost, to measure what the choice prior costs at serving: the
default design's network (width 64, 10 tokens as keys and values) averaged with the per-user
regression, and the same with the choice prior over MAX_ITEMS random remembered images
(trainer/choice_prior.py). Untrained: the cost does not depend on the weights.

python3 -m trainer.cost_models --dim D --out DIR  ->  DIR/plain.onnx, DIR/choice-prior.onnx
then: npm run bench:history-cost -- --model DIR/plain.onnx --model DIR/choice-prior.onnx
"""
import argparse
import os

import numpy as np
import torch

from .choice_prior import MAX_ITEMS, attach_choice_prior
from .ensemble import attach_regression
from .export import export_onnx
from .model import ModelConfig, PreferenceModel

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--dim", type=int, required=True, help="the item vectors' dimension")
parser.add_argument("--out", required=True)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

torch.manual_seed(0)
network = PreferenceModel(ModelConfig(embedding_dim=args.dim, token_attention="cross", dropout=0.0)).eval()
plain = attach_regression(network, np.linspace(-1, 1, args.dim + 1), 10.0, 0.4)
images = np.random.default_rng(0).normal(size=(MAX_ITEMS, args.dim)).astype(np.float32)
prior = attach_choice_prior(plain, images, np.linspace(1, -1, args.dim + 1), np.arange(MAX_ITEMS), 0.8, 0.2)
metadata = {"embedding_dim": args.dim, "preference_tokens": 10, "model_version": "cost", "trained_at": "1970-01-01T00:00:00Z",
            "eval_pairwise": ""}
for name, model in (("plain", plain), ("choice-prior", prior)):
    export_onnx(model, os.path.join(args.out, f"{name}.onnx"), metadata)
print(f"wrote {args.out}/plain.onnx and {args.out}/choice-prior.onnx")
