"""Exports a PreferenceModel to ONNX (CONTRACTS.md section 3), opset 17, with its metadata.

python3 -m trainer.export --checkpoint ckpt.pt --out model.onnx
"""
import argparse
import inspect
import warnings

import onnx
import torch

from .model import ModelConfig
from .group_network import FROM_CLASSES, split
from .network_average import build_model, members_of

OPSET = 17
INPUTS = ["history", "history_label", "history_mask", "candidates"]
OUTPUTS = ["logits", "user_embedding"]
# The graph CONTRACTS.md section 3 describes is the TorchScript exporter's, which reads
# dynamic_axes. PyTorch 2.9 made the torch.export-based exporter (dynamo=True) the default,
# which builds another graph and takes dynamic shapes its own way. Debian 12's torch 1.13 has no
# such argument; a GPU machine's torch (2.11 on the one lent in session 33) has.
TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def example_inputs(dim, batch=2, history=5, candidates=3):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, history, dim, generator=g),
        torch.randint(0, 2, (batch, history), generator=g),
        torch.ones(batch, history, dtype=torch.bool),
        torch.randn(batch, candidates, dim, generator=g),
    )


def export_onnx(model, path: str, metadata: dict) -> None:
    """Exports a PreferenceModel, an average of them (network_average.py), or either with the
    items' like rates added (item_rates.py), the co-likes (co_likes.py) or the latent classes
    (served_latent_classes.py), and any of these with the choice prior (choice_prior.py) and a
    taste-group network (group_network.py)."""
    model.eval()
    _, group = split(model)
    networks = members_of(model) + ([group] if group is not None else [])
    for network in networks:
        if network.tokens is not None:
            with torch.no_grad():
                network.frozen_taste_coordinates = network.taste_coordinates()
    try:
        _export(model, path)
    finally:
        for network in networks:
            network.frozen_taste_coordinates = None
    graph = onnx.load(path)
    _write_metadata(graph, path, metadata)


# Warnings torch 1.13's exporter gives for every model of ours, each known to be harmless: a
# constant built with torch.tensor (the [0.5, -0.5] that turns a log-odds into two logits) is
# indeed constant, and its shape needs no inference. Silenced so that what the trainer writes on
# stderr, which the nightly job logs as a warning (trainer-process.ts), is only what needs reading.
HARMLESS_EXPORT_WARNINGS = (
    (torch.jit.TracerWarning, "torch.tensor results are registered as constants in the trace"),
    (UserWarning, "The shape inference of prim::Constant type is missing"),
)


def _export(model, path):
    with warnings.catch_warnings():
        for category, message in HARMLESS_EXPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        _export_graph(model, path)


def _export_graph(model, path):
    torch.onnx.export(
        model,
        example_inputs(model.config.embedding_dim),
        path,
        input_names=INPUTS,
        output_names=OUTPUTS,
        dynamic_axes={
            "history": {0: "B", 1: "H"},
            "history_label": {0: "B", 1: "H"},
            "history_mask": {0: "B", 1: "H"},
            "candidates": {0: "B", 1: "T"},
            "logits": {0: "B", 1: "T"},
            "user_embedding": {0: "B"},
        },
        opset_version=OPSET,
        do_constant_folding=True,
        **TORCHSCRIPT_EXPORTER,
    )


def _write_metadata(graph, path, metadata):
    required = {"embedding_dim", "preference_tokens", "model_version", "trained_at", "eval_pairwise"}
    missing = required - set(metadata)
    if missing:
        raise ValueError(f"metadata: missing {', '.join(sorted(missing))}")
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(graph)
    onnx.save(graph, path)


def load_checkpoint(path, device="cpu"):
    checkpoint = torch.load(path, map_location=device)
    model = build_model(ModelConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device), checkpoint


def user_embedding_source(config: dict, metrics: dict) -> str:
    if not config.get("group_network"):
        return "scoring network"
    started = (metrics.get("group_network") or {}).get("started_from")
    return FROM_CLASSES if started == FROM_CLASSES else "taste-group network"


def user_embedding_tokens(config: dict) -> int:
    """The tokens user_embedding reads: a taste-group network's own count where it has one
    (group_tokens, since session 56; 0 in checkpoints before, whose count was the scoring
    network's), else the scoring network's."""
    if config.get("group_network") and config.get("group_tokens"):
        return config["group_tokens"]
    return config["preference_tokens"]


def metadata_for(checkpoint) -> dict:
    config = checkpoint["config"]
    tokens = user_embedding_tokens(config)
    return {
        "embedding_dim": config["embedding_dim"],
        "preference_tokens": config["preference_tokens"],
        "model_version": checkpoint["model_version"],
        "trained_at": checkpoint["trained_at"],
        # Empty when training had no validation users to measure with (never "nan").
        "eval_pairwise": "" if checkpoint["metrics"].get("val_pairwise") is None else f"{checkpoint['metrics']['val_pairwise']:.2f}",
        "user_embedding_dim": 2 * tokens or config["width"],
        # What the platform reads from user_embedding (src/clustering/tokens.ts).
        "user_embedding_layout": f"taste_coordinates:{tokens},token_activations:{tokens}"
        if tokens else f"encoded_history:{config['width']}",
        # Which tokens user_embedding reads: the scoring network's, a taste-group network's trained on
        # more episodes (group_network.py: small tenants, with --group-episodes), or EM's latent
        # classes as an untrained one's (--group-from classes).
        "user_embedding_from": user_embedding_source(config, checkpoint["metrics"]),
        "eval_users": checkpoint["metrics"].get("val_users", 0),
        # The per-user regression's share of the log-odds (trainer/ensemble.py); 0: the network alone.
        "regression_weight": config.get("regression_weight", 0.0),
        # How the history reads the preference tokens (model.py: joint, or cross, the paper's).
        "token_attention": config.get("token_attention", "joint"),
        # How many networks' logits are averaged (network_average.py); 1: one network.
        "networks": config.get("networks", 1),
        # The items whose like rates are added to the log-odds, and the rates' weight (item_rates.py).
        "item_memory": config.get("item_memory", 0),
        "item_rate_weight": config.get("item_rate_weight", 0.0),
        # Whether the trainer was asked for the rates and how it chose their weight: "off", or why
        # (with --item-rates crossfit, whether users the network never saw rejected rule 4's).
        "item_rates": "off" if not checkpoint["metrics"].get("item_rates") else checkpoint["metrics"]["item_rates"]["selected_by"],
        # The items whose co-likes with the history are added, their weight and the model's (co_likes.py).
        "co_like_memory": config.get("co_like_memory", 0),
        "co_like_weight": config.get("co_like_weight", 0.0),
        "co_like_scale": config.get("co_like_scale", 1.0),
        # How many eigenpairs of the similarities it keeps (baselines.CO_LIKE_RANK); 0: the whole matrix.
        "co_like_rank": config.get("co_like_rank", 0),
        # Whether the trainer was asked for the co-likes and what it chose: "off", or why.
        "co_likes": "off" if not checkpoint["metrics"].get("co_likes") else checkpoint["metrics"]["co_likes"]["selected_by"],
        # The latent classes of users whose log-odds are added, their weight and the model's
        # (served_latent_classes.py), and whether the trainer was asked for them and what it chose.
        "latent_class_count": config.get("latent_class_count", 0),
        "latent_class_weight": config.get("latent_class_weight", 0.0),
        "latent_class_scale": config.get("latent_class_scale", 1.0),
        "latent_classes": ("off" if not checkpoint["metrics"].get("latent_classes")
                           else checkpoint["metrics"]["latent_classes"]["selected_by"]),
        # The images the choice prior judges a candidate against, its weight and the model's
        # (choice_prior.py).
        "choice_memory": config.get("choice_memory", 0),
        "choice_weight": config.get("choice_weight", 0.0),
        "choice_scale": config.get("choice_scale", 1.0),
        # Whether the trainer was asked for the prior and what it chose: "off", or why it chose
        # its weights (or none: no choices, or a weight of 0).
        "choice_prior": "off" if not checkpoint["metrics"].get("choice_prior") else checkpoint["metrics"]["choice_prior"]["selected_by"],
        # The networks' forward passes while they trained: "bf16" or "off" (float32), and the
        # --autocast setting that chose it (trainer/precision.py; "off" before it existed).
        "autocast": checkpoint["metrics"].get("autocast", {}).get("used", "off"),
        "autocast_setting": checkpoint["metrics"].get("autocast", {}).get("setting", "off"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model, checkpoint = load_checkpoint(args.checkpoint)
    export_onnx(model, args.out, metadata_for(checkpoint))
    print(f"wrote {args.out}")
