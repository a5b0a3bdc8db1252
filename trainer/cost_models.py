"""Models for bench:history-cost, to measure what the choice prior and the co-likes cost at
serving: the default design's network (width 64, 10 tokens as keys and values) averaged with the
per-user regression (plain); the same with the choice prior over MAX_ITEMS random remembered
images (trainer/choice_prior.py); with the like rates of MAX_ITEMS remembered items
(trainer/item_rates.py), as a catalogue tenant's model has them; and that with the co-likes over
as many items (trainer/co_likes.py). Untrained: the cost does not depend on the weights, nor on
whether a candidate is remembered (each is compared with every remembered item either way).

python3 -m trainer.cost_models --dim D --out DIR  ->  DIR/{plain,choice-prior,item-rates,co-likes}.onnx
then: npm run bench:history-cost -- --model DIR/plain.onnx --model DIR/choice-prior.onnx
      npm run bench:history-cost -- --model DIR/item-rates.onnx --model DIR/co-likes.onnx
"""
import argparse
import os

import numpy as np
import torch

from .baselines import low_rank
from .choice_prior import MAX_ITEMS, attach_choice_prior
from .co_likes import attach_co_likes
from .ensemble import attach_regression
from .export import export_onnx
from .item_rates import attach_item_rates
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
rates = attach_item_rates(plain, images, np.arange(MAX_ITEMS), np.linspace(-1, 1, MAX_ITEMS), 0.5)
similarities = np.random.default_rng(1).uniform(-0.3, 0.3, size=(MAX_ITEMS, MAX_ITEMS)).astype(np.float32)
co_likes = attach_co_likes(rates, images, np.arange(MAX_ITEMS), low_rank(similarities), 2.0, 0.5)
metadata = {"embedding_dim": args.dim, "preference_tokens": 10, "model_version": "cost", "trained_at": "1970-01-01T00:00:00Z",
            "eval_pairwise": ""}
for name, model in (("plain", plain), ("choice-prior", prior), ("item-rates", rates), ("co-likes", co_likes)):
    export_onnx(model, os.path.join(args.out, f"{name}.onnx"), metadata)
print(f"wrote {args.out}/plain.onnx, choice-prior.onnx, item-rates.onnx and co-likes.onnx")
