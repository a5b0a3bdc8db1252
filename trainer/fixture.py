"""Writes an exported model and PyTorch's outputs on fixed inputs, for the TypeScript side to
check onnxruntime-node against (CONTRACTS.md section 3: ONNX matches PyTorch within 1e-4).

python3 -m trainer.fixture --out DIR [--user-fit STEPS] [--global-floor] [--token-attention cross] [--ensemble W] [--networks K] [--item-rates W] [--co-likes W] [--latent-classes W] [--choice-prior W]  ->  DIR/model.onnx, DIR/ckpt.pt, DIR/fixture.json

The checkpoint lets tests use the fixture as a base model that training fine-tunes and measures.
"""
import argparse
import json
import os

import torch

from .baselines import low_rank
from .choice_prior import LOOKALIKES, attach_choice_prior
from .co_likes import attach_co_likes
from .served_latent_classes import attach_latent_classes
from .ensemble import attach_regression
from .export import export_onnx
from .item_rates import attach_item_rates
from .model import ModelConfig, PreferenceModel
from .network_average import NetworkAverage

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True)
parser.add_argument("--user-fit", type=int, default=0, help="the model fits each user's regression in this many steps")
parser.add_argument("--global-floor", action="store_true")
parser.add_argument("--token-attention", choices=["joint", "cross"], default="joint")
parser.add_argument("--ensemble", type=float, default=0.0, metavar="W",
                    help="the model averaged with the per-user regression at this weight (trainer/ensemble.py)")
parser.add_argument("--networks", type=int, default=1, metavar="K",
                    help="the average of K networks' logits (trainer/network_average.py)")
parser.add_argument("--item-rates", type=float, default=0.0, metavar="W",
                    help="the like rates of remembered items added at this weight (trainer/item_rates.py); three of the "
                         "candidates are remembered items")
parser.add_argument("--co-likes", type=float, default=0.0, metavar="W",
                    help="the co-likes with the history added at this weight, the model's log-odds scaled by 0.7 "
                         "(trainer/co_likes.py); three history items and three candidates are remembered items")
parser.add_argument("--latent-classes", type=float, default=0.0, metavar="W",
                    help="the log-odds of three latent classes of users added at this weight, the model's log-odds scaled "
                         "by 0.6 (trainer/served_latent_classes.py)")
parser.add_argument("--choice-prior", type=float, default=0.0, metavar="W",
                    help="the global pairwise preference less its mean over look-alikes added at this weight, the "
                         "model's log-odds halved (trainer/choice_prior.py), over more remembered images than the "
                         "look-alikes counted; one candidate is remembered")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

torch.manual_seed(7)
config = ModelConfig(embedding_dim=8, width=32, heads=4, encoder_layers=2, decoder_layers=1, preference_tokens=4, dropout=0.0,
                     user_fit_steps=args.user_fit, global_floor=args.global_floor,
                     token_attention=args.token_attention)
networks = [PreferenceModel(config) for _ in range(args.networks)]
for network in networks:
    torch.nn.init.normal_(network.user_weights.weight, std=0.1)   # exercise the per-user path, zero at init
model = networks[0] if args.networks == 1 else NetworkAverage.of(networks)
if args.ensemble:
    # A fixed regression prior with a bias, as a trained one has (weights last element = bias).
    prior = torch.linspace(-1.0, 1.0, config.embedding_dim + 1).numpy()
    model = attach_regression(model, prior, 3.0, args.ensemble)
    config = model.config

B, H, T, D = 3, 6, 5, config.embedding_dim
history = torch.randn(B, H, D)
labels = torch.randint(0, 2, (B, H))
mask = torch.ones(B, H, dtype=torch.bool)
mask[1, 4:] = False     # row 1: two padded slots
mask[2, 2:] = False     # row 2: four padded slots
candidates = torch.randn(B, T, D)
if args.item_rates:
    # Three candidates are remembered items, among four items no candidate is.
    remembered = torch.cat([candidates[0, :1], candidates[1, 2:3], candidates[2, 4:5], torch.randn(4, D)]).numpy()
    model = attach_item_rates(model, remembered, list(range(len(remembered))), torch.linspace(-2.0, 2.0, len(remembered)).numpy(),
                              args.item_rates)
    config = model.config
if args.co_likes:
    # Remembered: three history items (one of them padded out in row 2), three candidates, two
    # items neither is; the similarities are fixed values, made symmetric and kept whole (every eigenpair).
    items = torch.cat([history[0, :1], history[1, 3:4], history[2, 3:4], candidates[0, 1:2], candidates[1, :1],
                       candidates[2, 3:4], torch.randn(2, D)]).numpy()
    similarities = torch.sin(torch.arange(len(items) ** 2, dtype=torch.float32)).reshape(len(items), len(items)).fill_diagonal_(0).numpy()
    model = attach_co_likes(model, items, list(range(len(items))), low_rank(similarities, len(items)), args.co_likes, 0.7)
    config = model.config
if args.latent_classes:
    # Fixed classes (weights, bias last) far enough apart that the history moves the posterior.
    classes = torch.sin(torch.arange(3 * (D + 1), dtype=torch.float32)).reshape(3, D + 1).numpy()
    model = attach_latent_classes(model, classes, [0.5, 0.3, 0.2], args.latent_classes, 0.6)
    config = model.config
if args.choice_prior:
    images = torch.cat([candidates[1, 1:2], torch.randn(LOOKALIKES + 9, D)]).numpy()
    preference = torch.linspace(1.0, -1.0, D + 1).numpy()
    model = attach_choice_prior(model, images, preference, list(range(len(images))), args.choice_prior, 0.5)
    config = model.config
model.eval()
with torch.no_grad():
    logits, user = model(history, labels, mask, candidates)

export_onnx(model, os.path.join(args.out, "model.onnx"), {
    "embedding_dim": D, "preference_tokens": config.preference_tokens, "model_version": "fixture",
    "trained_at": "1970-01-01T00:00:00Z", "eval_pairwise": "nan",
})
torch.save({"config": config.to_dict(), "state_dict": model.state_dict(), "metrics": {}, "trained_at": "1970-01-01T00:00:00Z",
            "model_version": "fixture"}, os.path.join(args.out, "ckpt.pt"))
flat = lambda t: t.reshape(-1).tolist()
with open(os.path.join(args.out, "fixture.json"), "w") as f:
    json.dump({
        "shape": {"B": B, "H": H, "T": T, "D": D, "E": config.preference_tokens},
        "history": flat(history), "history_label": flat(labels), "history_mask": flat(mask.int()),
        "candidates": flat(candidates), "logits": flat(logits), "user_embedding": flat(user),
    }, f)
print(f"wrote {args.out}/model.onnx, ckpt.pt and fixture.json")
