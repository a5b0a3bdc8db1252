"""Which weight of the item like rates the test users would have liked, against what the trainer
chooses (issue 14, session 19), from bench:seeds' saved models: each seed's shipped ensemble (its
own split and weight, as bench:seeds builds it) with the rates added at each weight of a grid,
scored under EVAL-1 on the test users, beside the weight each rule gives on that seed's training
users (with each user's bias, as shipped, and without, session 18's rule). Diagnostic only: a
weight chosen by these figures would have been chosen on the test users.

python3 -m trainer.bench_rate_weight --train DIR --test DIR --work DIR --seeds 0,1,2 [--n-ref 8] [--val-share auto]
"""
import os

import numpy as np

from . import baselines
from .bench_seeds import FULL, saved_models_parser, shipped_ensemble, slug
from .data import eval_users, read_dataset, subset, val_share_flag, validation_split
from .ensemble import attach_regression
from .evaluate import evaluate, model_scorer
from .export import load_checkpoint
from .item_rates import attach_item_rates, rate_weight_beyond_vectors, remembered_items

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)


def main():
    args = saved_models_parser(__doc__).parse_args()
    train, test = read_dataset(args.train), read_dataset(args.test)
    users = eval_users(test, args.n_ref)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"| seed | beta, with each user's bias (shipped) | beta, without | "
          + " | ".join(f"at {b:g}: pairwise / top-1" for b in GRID) + " |")
    print("|---|---|---|" + "---|" * len(GRID))
    scores = {b: [] for b in GRID}
    for seed in seeds:
        model, _ = load_checkpoint(os.path.join(args.work, f"seed{seed}-{slug(FULL)}", "ckpt.pt"))
        w_regression, shrink, weight, _ = shipped_ensemble(model, train, seed, args.val_share)
        ensemble = attach_regression(model, w_regression, shrink, weight)
        # As add_item_rates counts them: the training users of the seed's split only.
        train_ids = validation_split(train, args.val_share, seed)[0]
        counted = subset(train, train_ids)
        prior_count, _ = baselines.tune_rate_prior(counted, seed=seed)
        counts = baselines.item_like_counts(counted)
        rows, log_odds = remembered_items(train, counts, prior_count)
        rules = [rate_weight_beyond_vectors(train, train_ids, counts, prior_count, seed, user_intercepts=u) for u in (True, False)]
        cells = []
        for b in GRID:
            s = evaluate(model_scorer(attach_item_rates(ensemble, train.vectors, rows, log_odds, b), test.vectors), users)
            scores[b].append((s["pairwise"], s["top1"]))
            cells.append(f"{s['pairwise']:.2f} / {s['top1']:.2f}")
        print(f"| {seed} | {rules[0]} | {rules[1]} | " + " | ".join(cells) + " |", flush=True)
    print("| mean | | | " + " | ".join(f"{np.mean([p for p, _ in v]):.2f} / {np.mean([t for _, t in v]):.2f}" for v in scores.values()) + " |")
    print(f"\ncommand: /usr/bin/python3 -m trainer.bench_rate_weight --train {args.train} --test {args.test} --work {args.work} "
          f"--seeds {args.seeds} --n-ref {args.n_ref} --val-share {val_share_flag(args.val_share)}")


if __name__ == "__main__":
    main()
