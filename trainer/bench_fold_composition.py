"""The served model's composition chosen on half the training users, held out (issue 14, session 50):
whether more judges than the tenant's validation users would find the composition the test
users prefer.

python3 -m trainer.bench_fold_composition --train DIR --write-folds FOLDS [--seeds 0,1,2]
python3 -m trainer.bench_fold_composition --train DIR --test DIR --models DIR --folds FOLDS
    [--fold-models FOLDS/models] [--seeds 0,1,2] [--n-ref 8]

Session 48 found that the best baselines' composition (a near-global regression, the rate at 1,
8 x co-likes, no network) beats the served model on MovieLens and its unseen vectors, and that a
grid of compositions chosen on the run's own 28-62 validation users does no better than what is
served. This bench gives the same grid more judges: for each seed S, the training users are
split in two (rate_crossfit.folds_of, the item rates' cross-fit folds), a model of the same
design is trained on FOLDS/seedS/A (its parts counted there), and each composition is scored on
FOLDS/seedS/B's users under EVAL-1(n), users that model never saw. The composition best there is
applied to the model trained on every training user (--models) and scored on --test's users,
beside the model as served and the grid's best on the test users (chosen there: an upper bound).

The grid (bench_served_weights' weights, session 48's values): the regression's share as served
or 1 (no network), its pull as served or 30, the rate as served or 1, the co-likes at 2, 4 or 8 x
their scale, the latent classes at 0, 0.5 or 1; and the model as served. A weight the model
lacks a part for stays as it is.

--write-folds writes FOLDS/seedS/A and B (the training users' rows, the items as they are) and
prints the commands that train the fold models; then the second form compares.
"""
import argparse
import copy
import csv
import itertools
import os
import shutil

import numpy as np

from .bench_seeds import baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, show_paired
from .bench_served_weights import knobs
from .bench_train_time import integers
from .bench_versus import check_checkpoints, datasets_and_users
from .data import eval_users, read_dataset
from .evaluate import evaluate_per_user, model_scorer
from .export import load_checkpoint
from .rate_crossfit import folds_of

SERVED = "served"
GRID = {"ensemble weight": (SERVED, 1.0), "regression pull": (SERVED, 30.0), "item-rate weight": (SERVED, 1.0),
        "co-likes weight": (2.0, 4.0, 8.0), "latent-class weight": (0.0, 0.5, 1.0)}
# None: the model as served, first, so that a tie keeps it.
COMPOSITIONS = [None] + [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
METRICS = ("pairwise", "top-1")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="the training data (the models' and the folds')")
    parser.add_argument("--write-folds", metavar="FOLDS", help="write FOLDS/seedS/A and B and exit")
    parser.add_argument("--test", help="the users the full models are measured on")
    parser.add_argument("--models", help="a folder of seedS/ckpt.pt trained on every training user")
    parser.add_argument("--folds", help="the folder --write-folds wrote")
    parser.add_argument("--fold-models", help="a folder of seedS/ckpt.pt trained on FOLDS/seedS/A (default FOLDS/models)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-ref", type=int, default=8, help="EVAL-1(n): the history size per kind")
    args = parser.parse_args(argv)
    args.seed_list = integers(parser, "--seeds", args.seeds)
    if args.write_folds:
        return args
    for flag in ("test", "models", "folds"):
        if not getattr(args, flag):
            parser.error(f"--{flag} is required unless --write-folds is given")
    args.fold_models = args.fold_models or os.path.join(args.folds, "models")
    check_checkpoints(parser, "--models", args.models, args.seed_list)
    check_checkpoints(parser, "--fold-models", args.fold_models, args.seed_list)
    return args


def write_folds(train_dir, out, seeds):
    """FOLDS/seedS/A and B: the training users' rows split by folds_of(users, S), the other files as they are."""
    with open(os.path.join(train_dir, "interactions.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    users = sorted({r[0] for r in rows})
    for seed in seeds:
        for name, fold in zip("AB", folds_of(users, seed)):
            folder = os.path.join(out, f"seed{seed}", name)
            os.makedirs(folder, exist_ok=True)
            for file in os.listdir(train_dir):
                if file not in ("interactions.csv", "users.csv"):
                    shutil.copy(os.path.join(train_dir, file), folder)
            keep = set(fold)
            with open(os.path.join(folder, "interactions.csv"), "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(r for r in rows if r[0] in keep)


def composed(loaded, moves, composition):
    """A copy of the `loaded` checkpoint's model with `composition`'s weights set (knobs' moves),
    as served where None. Copied, not read again: the moves reweigh parts in place, and a
    checkpoint from before session 51 pays an eigendecomposition of its co-likes at each load."""
    model = copy.deepcopy(loaded)
    by_name = {name: (moved, needs) for name, _, moved, needs in moves}
    for name, value in (composition or {}).items():
        moved, needs = by_name[name]
        if value != SERVED and (needs is None or needs(model) is not None):
            model = moved(model, value)
    return model


def rates(model, dataset, users):
    """(pairwise, top-1) per user, in percent."""
    return per_user_rates(evaluate_per_user(model_scorer(model, dataset.vectors), users))


def shown(composition):
    return "as served" if composition is None else ", ".join(f"{k} {v:g}" if v != SERVED else f"{k} served" for k, v in composition.items())


def main(argv=None):
    args = parse(argv)
    if args.write_folds:
        write_folds(args.train, args.write_folds, args.seed_list)
        print(f"wrote {args.write_folds}/seedS/A and B for seeds {args.seeds}; train each fold model with the full models' flags:")
        for seed in args.seed_list:
            print(f"  npm run train -- --data {args.write_folds}/seed{seed}/A --out {args.write_folds}/models/seed{seed} --seed {seed} FLAGS")
        return
    train, test, users = datasets_and_users(args)
    runs = {"served": [], "chosen": []}
    print(f"\n### {args.models}: the composition chosen on the held-out half of {args.train}'s users, scored on "
          f"{args.test} ({len(users)} users under EVAL-1({args.n_ref})), seeds {args.seeds}\n")
    print("| seed | fold users | on the fold: served / chosen | chosen | on the test: served | chosen | the grid's best on the test (its rank on the fold) |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seed_list:
        fold_train, fold_test = (read_dataset(os.path.join(args.folds, f"seed{seed}", half)) for half in "AB")
        fold_users = eval_users(fold_test, args.n_ref)
        _, fold_moves = knobs(fold_train, fold_test, seed)
        fold_model, _ = load_checkpoint(os.path.join(args.fold_models, f"seed{seed}", "ckpt.pt"))
        on_fold = [np.nanmean(rates(composed(fold_model, fold_moves, c), fold_test, fold_users)[0]) for c in COMPOSITIONS]
        pick = int(np.argmax(on_fold))
        _, moves = knobs(train, test, seed)
        model, _ = load_checkpoint(os.path.join(args.models, f"seed{seed}", "ckpt.pt"))
        on_test = [rates(composed(model, moves, c), test, users) for c in COMPOSITIONS]
        runs["served"].append(on_test[0])
        runs["chosen"].append(on_test[pick])
        best = int(np.argmax([np.nanmean(r[0]) for r in on_test]))
        rank = 1 + sum(score > on_fold[best] for score in on_fold)
        level = lambda r: f"{np.nanmean(r[0]):.2f} / {np.nanmean(r[1]):.2f}"
        print(f"| {seed} | {len(fold_users)} | {on_fold[0]:.2f} / {on_fold[pick]:.2f} | {shown(COMPOSITIONS[pick])} | "
              f"{level(on_test[0])} | {level(on_test[pick])} | {level(on_test[best])}: {shown(COMPOSITIONS[best])} "
              f"({rank} of {len(COMPOSITIONS)}) |")

    baseline_rows = baseline_results(train, test, users)
    best_names = best_baselines(baseline_rows)
    print("\n| difference | metric | over users | over seeds and users | verdict | users |")
    print("|---|---|---|---|---|---|")
    for k, metric in enumerate(METRICS):
        served, chosen = (np.array([r[k] for r in runs[name]]) for name in ("served", "chosen"))
        baseline = per_user_rates(baseline_rows[best_names[metric]])[k]
        print(f"| chosen − served | {metric} | " + show_paired(paired(chosen.mean(0), served.mean(0)), bootstrap_paired(chosen, served, same_seeds=True)) + " |")
        for name, rows in (("chosen", chosen), ("served", served)):
            print(f"| {name} − best baseline | {metric} | " + show_paired(paired(rows.mean(0), baseline), bootstrap_paired(rows, baseline)) + " |")
    for metric in METRICS:
        print(f"\nbest {metric} baseline: {best_names[metric]}")
    print(f"\ncommand: npm run bench:fold-composition -- --train {args.train} --test {args.test} --models {args.models} "
          f"--folds {args.folds} --fold-models {args.fold_models} --seeds {args.seeds} --n-ref {args.n_ref}")


if __name__ == "__main__":
    main()
