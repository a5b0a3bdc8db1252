"""Small datasets written on the fly for the trainer's tests (never data from ../shared), and a
small network to attach parts to."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout

import numpy as np
import onnx
import torch

from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import build_model


def write_dataset(path, vectors, items, interactions, users=None):
    os.makedirs(path, exist_ok=True)
    np.save(os.path.join(path, "items.npy"), np.asarray(vectors, dtype=np.float32))
    with open(os.path.join(path, "items.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "prompt"])
        w.writerows([[i, f"prompt {i}"] for i in items])
    with open(os.path.join(path, "interactions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "label", "ts", "pair"])
        w.writerows(interactions)
    if users:
        with open(os.path.join(path, "users.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["user", "group"])
            w.writerows(users)


def taste_world(path, users=120, groups=3, items=150, dim=8, per_user=40, seed=0, first_user=0):
    """Users in `groups` taste groups: a user likes an item when it lies on their group's side.
    Items and group tastes depend on `seed` only, so worlds with other `first_user` share them."""
    world = np.random.default_rng(seed)
    vectors = world.normal(size=(items, dim)).astype(np.float32)
    tastes = world.normal(size=(groups, dim))
    rng = np.random.default_rng([seed, first_user])
    ids = [f"i{k}" for k in range(items)]
    rows, members = [], []
    for u in range(first_user, first_user + users):
        g = u % groups
        members.append([f"u{u}", g])
        taste = tastes[g] + 0.3 * rng.normal(size=dim)
        for t, k in enumerate(rng.choice(items, size=per_user, replace=False)):
            like = int(vectors[k] @ taste + 0.3 * rng.normal() > 0)
            rows.append([f"u{u}", ids[k], like, t, ""])
    write_dataset(path, vectors, ids, rows, members)


def world_truth(latent, styles, q, noise=0.1, tastes=None):
    """The part of bench_world_ceiling.read_truth that its scorers read, for a small world: item
    i of style styles[i] at latent[i], quality along the first axis with weight q, label noise
    `noise`, and the users' tastes where a test needs them."""
    styles = np.asarray(styles)
    quality = np.zeros(latent.shape[1])
    quality[0] = 1.0
    return {"latent": latent, "style_items": [np.flatnonzero(styles == s) for s in range(styles.max() + 1)],
            "quality": quality, "q": q, "noise": noise, **({"taste": tastes} if tastes is not None else {})}


def trainer_refusing(*flags):
    """trainer.train run on a small world with these flags, which it should refuse: the finished
    process, for its exit code and stderr."""
    root = tempfile.mkdtemp()
    taste_world(os.path.join(root, "data"), users=20, seed=5)
    return subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, "m"),
                           *flags], capture_output=True, text=True)


def kernels_a_trainer_gets() -> dict:
    """The CPU kernels a trainer started in this environment trains on (trainer/kernels.py): a
    fresh interpreter fits them as the trainer does and records them as its metrics do."""
    show = "import json, trainer.kernels as k; k.fit_openblas_kernels(); print(json.dumps(k.cpu_kernels()))"
    return json.loads(subprocess.run([sys.executable, "-c", show], check=True, capture_output=True, text=True).stdout)


def train_small(root, out, *flags):
    """(metrics.json, stdout) of the trainer on root/data written to root/out, as a small network
    trained briefly (2 epochs, width 16, one layer, 300 episodes, 30% validation users) with `flags`."""
    done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, out),
                           "--epochs", "2", "--width", "16", "--layers", "1", "--max-episodes", "300", "--val-share", "0.3", *flags],
                          check=True, capture_output=True, text=True)
    with open(os.path.join(root, out, "metrics.json")) as f:
        return json.load(f), done.stdout


# A bench's runs of the trainer, kept small: width 16, one layer, 200 episodes, 30% validation
# users (the bench or the test adds the epochs).
SMALL_NETWORK = ["--width", "16", "--layers", "1", "--max-episodes", "200", "--val-share", "0.3"]


def printed_by(main, argv) -> str:
    """What a bench's main(argv) prints."""
    printed = io.StringIO()
    with redirect_stdout(printed):
        main(argv)
    return printed.getvalue()


def table_rows(printed, first_cell):
    """The rows of a printed table whose first cell is `first_cell`, split into cells on " | "."""
    return [line.split(" | ") for line in printed.splitlines() if line.startswith(f"| {first_cell} |")]


def onnx_metadata(path):
    """{key: value} of an ONNX file's metadata_props."""
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def small_network(seed=0):
    """An untrained network over 6-dimensional vectors, its per-user weights made non-zero (zero
    at initialisation) so the path through them counts."""
    torch.manual_seed(seed)
    model = PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, preference_tokens=3, dropout=0.0)).eval()
    torch.nn.init.normal_(model.user_weights.weight, std=0.1)
    return model


def rebuilds_alike(model) -> bool:
    """Whether the model build_model makes from `model`'s config, given its weights, scores as it
    does (what a saved checkpoint loads as)."""
    loaded = build_model(model.config)
    loaded.load_state_dict(model.state_dict())
    x = (torch.randn(1, 4, 6), torch.tensor([[1, 0, 1, 0]]), torch.ones(1, 4, dtype=torch.bool), torch.eye(6)[None])
    with torch.no_grad():
        return bool(torch.allclose(loaded(*x)[0], model(*x)[0]))
