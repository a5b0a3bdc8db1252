"""The promotion gate's numbers: a candidate, the model serving now and the simple baselines,
measured on the same held-out users under EVAL-1(n), with paired differences per user.

python3 -m trainer.compare --train DIR --heldout DIR --candidate CKPT [--serving CKPT] --out FILE

n follows CONTRACTS.md section 2 for a tenant: the largest of 8, 4, 2 that evaluates at least
50 held-out users, else the one that evaluates the most. The global baseline (no history) is the
stronger on the held-out users of the logistic regression on every training label and, where
the tenant has choices, the Bradley-Terry preference on them; both are fitted on --train, never
on held-out users.
A paired difference is the mean over users of (A's pairwise accuracy - B's) in points, with
its standard error: the gate reads "worse beyond noise" from it.
"""
import argparse
import json
import math
import time

import numpy as np
import torch

from . import baselines
from .data import choose_history_size, read_dataset
from .evaluate import evaluate_per_user, model_scorer, summarize
from .export import load_checkpoint


def paired(a, b):
    """Mean and standard error over users of a's pairwise accuracy minus b's (points)."""
    diffs = np.array([100.0 * (x["won"] - y["won"]) / x["pairs"] for x, y in zip(a, b) if x["pairs"]])
    if len(diffs) == 0:
        return {"mean": 0.0, "standardError": None, "users": 0}
    se = float(diffs.std(ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else None
    return {"mean": float(diffs.mean()), "standardError": se, "users": int(len(diffs))}


def global_weights_sampled(dataset, seed=0):
    items = np.array([r.item for rows in dataset.users.values() for r in rows])
    labels = np.array([r.label for rows in dataset.users.values() for r in rows])
    if len(items) > baselines.GLOBAL_FIT_ROWS:
        keep = np.random.default_rng(seed).choice(len(items), baselines.GLOBAL_FIT_ROWS, replace=False)
        items, labels = items[keep], labels[keep]
    return baselines.fit_logistic(dataset.vectors[items], labels, 1.0)


def global_baseline_rows(train, vectors, users):
    """(kind, per-user rows) of the gate's global baseline: the stronger on these users of the two
    no-history scores fitted on `train`. LABELS is the logistic regression on every training label;
    CHOICES, where the tenant's users chose between two images, is the Bradley-Terry preference on
    those choices, which is how PickScore is trained and which reads a choice as a choice (session
    22: 72.2 pairwise against 69.5 for LABELS on a world of choices). Gating on LABELS there would
    let a candidate that is worse than the global preference serve."""
    candidates = {"LABELS": global_weights_sampled(train)}
    choices = baselines.bradley_terry_weights(train)
    if choices is not None:
        candidates["CHOICES"] = choices
    rows = {kind: evaluate_per_user(baselines.global_scorer(vectors, w), users) for kind, w in candidates.items()}
    # Ties go to LABELS, the baseline every tenant has.
    kind = max(rows, key=lambda k: (summarize(rows[k])["pairwise"], k == "LABELS"))
    return kind, rows[kind]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--heldout", required=True)
    parser.add_argument("--candidate", required=True, help="the candidate's ckpt.pt")
    parser.add_argument("--serving", help="the serving model's ckpt.pt, when one serves with this dimension")
    parser.add_argument("--out", required=True)
    parser.add_argument("--min-users", type=int, default=50, help="the n rule's user count (CONTRACTS.md section 2)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    train = read_dataset(args.train)
    heldout = read_dataset(args.heldout)
    n, users = choose_history_size(heldout, args.min_users)
    vectors = heldout.vectors

    def model_rows(path):
        model, _ = load_checkpoint(path)
        return evaluate_per_user(model_scorer(model, vectors), users)

    rows = {"candidate": model_rows(args.candidate)}
    if args.serving:
        rows["serving"] = model_rows(args.serving)
    global_kind, rows["global"] = global_baseline_rows(train, vectors, users)
    rows["centroid"] = evaluate_per_user(baselines.centroid_scorer(vectors), users)

    result = {
        "historySize": n,
        "heldOutUsers": len(users),
        "pairs": sum(r["pairs"] for r in rows["candidate"]),
        "candidate": summarize(rows["candidate"]),
        "serving": summarize(rows["serving"]) if "serving" in rows else None,
        "globalBaseline": summarize(rows["global"]),
        "globalBaselineKind": global_kind,
        "centroidBaseline": summarize(rows["centroid"]),
        "versusServing": paired(rows["candidate"], rows["serving"]) if "serving" in rows else None,
        "versusGlobal": paired(rows["candidate"], rows["global"]),
        "versusCentroid": paired(rows["candidate"], rows["centroid"]),
        "seconds": time.perf_counter() - started,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, allow_nan=False, default=str)
    print(json.dumps({"evaluated": {"historySize": n, "users": len(users), "seconds": result["seconds"]}}), flush=True)


if __name__ == "__main__":
    main()
