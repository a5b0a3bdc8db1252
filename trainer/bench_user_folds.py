"""Models trained on each fold of one dataset, against the baselines over every fold's test users at
once (issue 14). One split of MovieLens evaluates 92 users; its five folds (trainer.movielens_folds)
evaluate about five times as many, so a paired difference's standard error is about half.

python3 -m trainer.bench_user_folds --folds DIR[,DIR...] [--models models] [--against SUB[,SUB...]] [--seeds 0,1,2] [--n-ref 8]

Each fold folder holds train/, test/ and MODELS/seedS/ckpt.pt (the served model as the trainer
saved it, trained on that fold's train/). Every baseline is fitted on each fold's train/ as
bench_versus fits it (its shrinks and weights chosen per fold, on that fold's test users where the
row says so), and the folds' per-user rates are put side by side: the users of all folds are one
population, drawn together by the bootstrap, and row k of the models is training seed k of every
fold. Two readings of "the best baseline":
- pooled: the one row best over every fold's users (one choice, made on all of them);
- per fold: on each fold the row best on that fold's users, as bench_versus picks it on one split.
  This is the issue's target read fold by fold; its choices, made on ~92 users each, flatter it.
With --against, other models in each fold (SUB/seedS/ckpt.pt, another design trained on the same
folds with the same seeds) are paired with --models over all folds' users and seeds, as
bench_versus pairs two designs on one split: an ablation on five times the users.
"""
import argparse
import os

import numpy as np

from .bench_seeds import baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, show_paired
from .bench_train_time import integers
from .bench_versus import METRICS, against_baseline, check_checkpoints, print_every_baseline, rates_by_seed
from .data import eval_users, read_dataset


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", required=True, help="fold folders, comma-separated, each with train/, test/ and MODELS/seedS/ckpt.pt")
    parser.add_argument("--models", default="models", help="the models' folder inside each fold (default models)")
    parser.add_argument("--against", default="",
                        help="other models' folders inside each fold, comma-separated, each paired with --models over every fold")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-ref", type=int, default=8, help="EVAL-1(n): the history size per kind")
    args = parser.parse_args(argv)
    args.seed_list = integers(parser, "--seeds", args.seeds)
    args.fold_list = [folder for folder in args.folds.split(",") if folder]
    args.against_list = [folder for folder in args.against.split(",") if folder]
    if len(args.fold_list) < 2:
        parser.error(f"--folds: {len(args.fold_list)} folder given; give 2 or more, comma-separated")
    for folder in args.fold_list:
        for part in ("train", "test"):
            if not os.path.isdir(os.path.join(folder, part)):
                parser.error(f"--folds: {os.path.join(folder, part)} not found")
        check_checkpoints(parser, "--models", os.path.join(folder, args.models), args.seed_list)
        for against in args.against_list:
            check_checkpoints(parser, "--against", os.path.join(folder, against), args.seed_list)
    return args


def fold_results(folder, args):
    """({models folder: {metric: [seeds, users]} rates}, --models' first, then each --against's;
    baseline_results' {baseline name: evaluate_per_user rows}) on one fold's EVAL-1(n-ref) users."""
    train, test = read_dataset(os.path.join(folder, "train")), read_dataset(os.path.join(folder, "test"))
    users = eval_users(test, args.n_ref)
    if not users:
        raise SystemExit(f"EVAL-1({args.n_ref}) evaluates no user of {folder}/test: try a smaller --n-ref")
    sets = {sub: rates_by_seed(os.path.join(folder, sub), args.seed_list, test.vectors, users) for sub in (args.models, *args.against_list)}
    return sets, baseline_results(train, test, users)


def pooled_rows(folds):
    """{fold 0's name for the row: rows of every fold's users}, row k of every fold together. A
    row's name carries the shrink or weights its fold chose, which differ between folds, so the
    rows are matched by position (baseline_results builds them in one order); folds that built
    different rows (a part missing on one) are refused."""
    counts = {len(rows) for _, rows in folds}
    if len(counts) != 1:
        raise SystemExit(f"the folds built different baseline rows ({sorted(counts)}): they cannot be pooled")
    by_position = [list(rows.values()) for _, rows in folds]
    return {name: [row for fold in by_position for row in fold[k]] for k, name in enumerate(folds[0][1])}


def main(argv=None):
    args = parse(argv)
    results = [fold_results(folder, args) for folder in args.fold_list]
    # Every set's users, fold after fold; --models' alone, fold by fold, beside each fold's baselines.
    sets = {sub: {m: np.concatenate([fold_sets[sub][m] for fold_sets, _ in results], axis=1) for m in METRICS}
            for sub in (args.models, *args.against_list)}
    models = sets[args.models]
    folds = [(fold_sets[args.models], rows) for fold_sets, rows in results]
    pooled = pooled_rows(folds)
    print(f"\n### {args.models} on {len(folds)} folds: {models['pairwise'].shape[1]} test users under EVAL-1({args.n_ref}), "
          f"seeds {args.seeds}\n")

    print("| fold | users | models (mean over users) | best baseline there | models − it, over users | over seeds and users | verdict | "
          "users with the metric |")
    print("|---|---|---|---|---|---|---|---|")
    per_fold_best = {m: [] for m in METRICS}
    for folder, (rates, rows) in zip(args.fold_list, folds):
        best = best_baselines(rows)
        for k, metric in enumerate(METRICS):
            baseline = per_user_rates(rows[best[metric]])[k]
            per_fold_best[metric].append(baseline)
            print(f"| {folder} {metric} | {rates[metric].shape[1]} | {np.nanmean(rates[metric]):.2f} | "
                  f"{best[metric]}: {np.nanmean(baseline):.2f} | {against_baseline(rates[metric], baseline)} |")

    print("\n| the models against | metric | baseline (mean over users) | models − baseline, over users | over seeds and users | verdict | users |")
    print("|---|---|---|---|---|---|---|")
    best = best_baselines(pooled)
    for k, metric in enumerate(METRICS):
        for name, b in ((f"the best over all folds: {best[metric]}", per_user_rates(pooled[best[metric]])[k]),
                        ("each fold's best (the issue's target, fold by fold)", np.concatenate(per_fold_best[metric]))):
            print(f"| {name} | {metric} | {np.nanmean(b):.2f} | {against_baseline(models[metric], b)} |")
    print(f"| the models themselves | pairwise / top-1 | {np.nanmean(models['pairwise']):.2f} / {np.nanmean(models['top-1']):.2f} | | | | |")
    if args.against_list:
        print_against(sets, args)

    print("\nEvery baseline, named as fold 0 fitted it (each fold fits its own shrink and weights):")
    print_every_baseline(models, pooled)
    print(f"\ncommand: npm run bench:user-folds -- --folds {args.folds} --models {args.models}"
          + (f" --against {args.against}" if args.against_list else "") + f" --seeds {args.seeds} --n-ref {args.n_ref}")


def print_against(sets, args):
    """--models against each --against set over every fold's users: row k of both is training
    seed k of every fold, so the seeds are drawn together (bench_seeds.bootstrap_paired's same_seeds)."""
    print("\n| models | pairwise (mean over users) | top-1 (mean over users) |")
    print("|---|---|---|")
    for sub, rates in sets.items():
        print(f"| {sub} | {np.nanmean(rates['pairwise']):.2f} | {np.nanmean(rates['top-1']):.2f} |")
    print("\n| difference | metric | over users | over seeds and users | verdict | users |")
    print("|---|---|---|---|---|---|")
    for metric in METRICS:
        a = sets[args.models][metric]
        for sub in args.against_list:
            b = sets[sub][metric]
            print(f"| {args.models} − {sub} | {metric} | "
                  + show_paired(paired(a.mean(0), b.mean(0)), bootstrap_paired(a, b, same_seeds=True)) + " |")


if __name__ == "__main__":
    main()
