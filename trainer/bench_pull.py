"""Where the ensemble's regression pull should be chosen (issue 14, session 16).

python3 -m trainer.bench_pull --train DIR --test DIR --work DIR [--seeds 0,1,2] [--n-ref 8] [--val-share auto]

Reads the full models `npm run bench:seeds -- --ensemble` trained into --work and attaches the
regression to each as `trainer.train --ensemble auto` does, with its pull (shrink) chosen three
ways: on the training users (what the trainer does), on the validation users (the ones the
weight is chosen on), and on the test users (an upper bound no deployment could reach). Each
row is paired against the best baseline on the same test users, over seeds and users, as
bench:seeds does. The weight is chosen on the validation users for each pull.
"""
import argparse
import os

import numpy as np

from . import baselines
from .bench_seeds import FULL, baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, show_paired, slug
from .data import eval_users, parse_val_share, read_dataset, subset, val_share_flag, validation_split
from .ensemble import attach_regression, choose_weight, fit_regression
from .evaluate import evaluate_per_user, model_scorer
from .export import load_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--work", required=True, help="bench:seeds' --work folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-ref", type=int, default=8)
    parser.add_argument("--val-share", type=parse_val_share, default=None, metavar="auto|S")
    args = parser.parse_args()

    train, test = read_dataset(args.train), read_dataset(args.test)
    users = eval_users(test, args.n_ref)
    baseline_rows = baseline_results(train, test, users)
    baseline_rates = {name: per_user_rates(rows) for name, rows in baseline_rows.items()}
    best = best_baselines(baseline_rows)
    # The test users' own best pull, as the upper-bound baseline's (bench_seeds.baseline_results).
    top = baselines.upper_bound_shrink(users, test.vectors, baselines.global_weights(train))
    rows = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        model, _ = load_checkpoint(os.path.join(args.work, f"seed{seed}-{slug(FULL)}", "ckpt.pt"))
        train_ids, _, _, val_users = validation_split(train, args.val_share, seed)
        w_regression, on_training = fit_regression(subset(train, train_ids), seed)
        on_validation = baselines.shrink_results(val_users, train.vectors, w_regression)
        pulls = {"training users": on_training, "validation users": max(on_validation, key=on_validation.get), "test users (upper bound)": top}
        for label, pull in pulls.items():
            weight = choose_weight(model, w_regression, pull, val_users, train.vectors)[0]
            rates = per_user_rates(evaluate_per_user(model_scorer(attach_regression(model, w_regression, pull, weight), test.vectors), users))
            rows.setdefault(label, []).append(rates)
            print(f"seed {seed}: pull chosen on the {label}: {pull}, weight {weight:.2f}: "
                  f"pairwise {np.nanmean(rates[0]):.2f}, top-1 {np.nanmean(rates[1]):.2f}", flush=True)

    print(f"\nBest baseline: pairwise {best['pairwise']}; top-1 {best['top-1']}.\n")
    print("| ensemble, pull chosen on the | metric | − best baseline, over users | over seeds and users | 2 SE | users |\n|---|---|---|---|---|---|")
    for label, runs in rows.items():
        for metric, i in (("pairwise", 0), ("top-1", 1)):
            ours = np.array([r[i] for r in runs])
            base = baseline_rates[best[metric]][i]
            print(f"| {label} | {metric} | {show_paired(paired(ours.mean(0), base), bootstrap_paired(ours, base[None]))} |")
    print(f"\ncommand: python3 -m trainer.bench_pull --train {args.train} --test {args.test} --work {args.work} "
          f"--seeds {args.seeds} --n-ref {args.n_ref} --val-share {val_share_flag(args.val_share)}")


if __name__ == "__main__":
    main()
