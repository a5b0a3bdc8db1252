"""The model benchmark under EVAL-1: tables shaped like the paper's Tables 1, 2, 4 and 6, and
clustering of user embeddings. Trains each variant with trainer.train (the same command as
`npm run train`) on --train, evaluates on --test, whose users no variant has seen.

python3 -m trainer.bench_model --train DIR --test DIR [--epochs 10] [--seed 0] [--work DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import baselines
from .bench_seeds import baseline_results
from .clustering import adjusted_rand_index, davies_bouldin, kmeans, silhouette
from .data import eval_users, read_dataset
from .evaluate import evaluate, model_scorer, summarize, user_embeddings
from .export import load_checkpoint

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--train", required=True)
parser.add_argument("--test", required=True)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--work", help="where the variants' models go (default: a temporary folder)")
parser.add_argument("--clusters", type=int, default=0, help="k for k-means (default: the number of groups in users.csv, else 4)")
args = parser.parse_args()
work = args.work or tempfile.mkdtemp(prefix="tastegraph-bench-")

train = read_dataset(args.train)
test = read_dataset(args.test)
users = eval_users(test)
print(f"train {args.train}: {len(train.users)} users; test {args.test}: {len(test.users)} users, "
      f"{len(users)} evaluated under EVAL-1", flush=True)

VARIANTS = {
    "L_base": ["--loss", "base", "--tokens", "0"],
    "L_base + L_CP": ["--loss", "all", "--tokens", "0"],
    "L_base + L_CP + P_v (full)": ["--loss", "all", "--tokens", "10"],
    "full, 5 tokens": ["--loss", "all", "--tokens", "5"],
    "full, 20 tokens": ["--loss", "all", "--tokens", "20"],
}
models, metrics = {}, {}
for name, flags in VARIANTS.items():
    out = os.path.join(work, name.replace(" ", "").replace("+", "-").replace(",", "").replace("(", "").replace(")", ""))
    started = time.time()
    subprocess.run([sys.executable, "-m", "trainer.train", "--data", args.train, "--out", out, "--epochs", str(args.epochs),
                    "--seed", str(args.seed), "--quiet", *flags], check=True)
    models[name], checkpoint = load_checkpoint(os.path.join(out, "ckpt.pt"))
    metrics[name] = checkpoint["metrics"]
    print(f"trained {name} in {time.time() - started:.0f} s ({metrics[name]['episodes_per_second']:.0f} episodes/s)", flush=True)


def row(name, r):
    return f"| {name} | {r['pairwise']:.1f} | {r['top1']:.1f} | {r['top2']:.1f} | {r['top3']:.1f} |"


# The baselines as bench:seeds scores them (its rows, on the same users and pairs).
w_global = baselines.global_weights(train)
shrink, _ = baselines.tune_shrink(train, w_global)
results = {"random": evaluate(baselines.random_scorer(args.seed), users),
           **{name: summarize(rows) for name, rows in baseline_results(train, test, users).items()}}
for name in ["L_base", "L_base + L_CP", "L_base + L_CP + P_v (full)"]:
    results[f"ours: {name}"] = evaluate(model_scorer(models[name], test.vectors), users)

first = next(iter(results.values()))
print(f"\n### Table 1: EVAL-1 on {args.test} ({first['users']} users, {first['pairs']} pairs)\n")
print("| method | pairwise | top-1 | top-2 | top-3 |\n|---|---|---|---|---|")
for name, r in results.items():
    print(row(name, r))

print("\n### Table 2: pairwise accuracy of the full model against the history size N_ref\n")
print("| N_ref (likes + dislikes) | users | pairs | full model | per-user LR | global |\n|---|---|---|---|---|---|")
full = models["L_base + L_CP + P_v (full)"]
for n_ref in (2, 4, 8, 16):
    u = eval_users(test, n_ref)
    if not u:
        print(f"| {n_ref} + {n_ref} | 0 | 0 | - | - | - |")
        continue
    m = evaluate(model_scorer(full, test.vectors), u)
    p = evaluate(baselines.per_user_scorer(test.vectors, w_global, shrink), u)
    g = evaluate(baselines.global_scorer(test.vectors, w_global), u)
    print(f"| {n_ref} + {n_ref} | {m['users']} | {m['pairs']} | {m['pairwise']:.1f} | {p['pairwise']:.1f} | {g['pairwise']:.1f} |")

print("\n### Table 4: ablation of the contrastive preference loss and the preference tokens\n")
print("| L_CP | P_v | pairwise | top-1 | top-2 | top-3 |\n|---|---|---|---|---|---|")
for name, cp, pv in [("L_base", "-", "-"), ("L_base + L_CP", "yes", "-"), ("L_base + L_CP + P_v (full)", "yes", "yes")]:
    r = results[f"ours: {name}"]
    print(f"| {cp} | {pv} | {r['pairwise']:.1f} | {r['top1']:.1f} | {r['top2']:.1f} | {r['top3']:.1f} |")

print("\n### Table 6: number of preference tokens\n")
print("| tokens | pairwise | top-1 |\n|---|---|---|")
for tokens, name in [(5, "full, 5 tokens"), (10, "L_base + L_CP + P_v (full)"), (20, "full, 20 tokens")]:
    r = results.get(f"ours: {name}") or evaluate(model_scorer(models[name], test.vectors), users)
    print(f"| {tokens} | {r['pairwise']:.1f} | {r['top1']:.1f} |")

groups = [test.groups.get(u.user) for u in users]
has_groups = all(g is not None for g in groups)
k = args.clusters or (len(set(groups)) if has_groups else 4)
print(f"\n### Clustering of test users' embeddings (k-means, k = {k})\n")
print("| variant | silhouette (higher is better) | Davies-Bouldin (lower is better) | ARI vs true groups |\n|---|---|---|---|")
for name in ["L_base", "L_base + L_CP", "L_base + L_CP + P_v (full)"]:
    emb = user_embeddings(models[name], test.vectors, users)
    labels = kmeans(emb, k, seed=args.seed)
    ari = f"{adjusted_rand_index(labels, groups):.3f}" if has_groups else "n/a (no users.csv)"
    print(f"| {name} | {silhouette(emb, labels):.3f} | {davies_bouldin(emb, labels):.3f} | {ari} |")

print("\n### Training throughput\n")
print("| variant | device | episodes/s | seconds | best epoch | validation pairwise |\n|---|---|---|---|---|---|")
for name, m in metrics.items():
    print(f"| {name} | {m['device']} (torch threads: {m.get('torch_threads', '?')}) | {m['episodes_per_second']:.0f} | "
          f"{m['train_seconds']:.0f} | {m['epoch']} | {'-' if m['val_pairwise'] is None else format(m['val_pairwise'], '.1f')} |")
print(f"\ncommand: npm run bench:model -- --train {args.train} --test {args.test} --epochs {args.epochs} --seed {args.seed}")
