"""Two sets of trained models, seed by seed, on the same test users: each against the other and
against the best baseline (issue 14). It reads what bench:train-time --work keeps (this/seedS and
against/seedS), so a change that trains different weights says, beside its time, what it did to
accuracy.

python3 -m trainer.bench_versus --train DIR --test DIR --models DIR --against DIR[,DIR...] [--seeds 0,1,2] [--n-ref 8]
                                [--every-baseline] [--cold] [--against-cold]

Each folder holds seedS/ckpt.pt for every seed: the served model as the trainer saved it, every
part included. Both sets are scored on the users of EVAL-1(n-ref). The two sets' difference is
paired over users and, since row k of both comes from training seed k, over seeds drawn together
(bench_seeds.bootstrap_paired, same_seeds); each set against the best baseline is drawn apart.
Several --against folders are each put against --models in one run, which fits the baselines
and scores --models once. With --every-baseline, --models is also put against each baseline row
(the global preference model, the paper's baseline, and the per-user regression, the issue's, among
them), so where the model stands against each is one table. With --cold, --models is scored with no
history on the same users' pairs, as the API scores a user before their first like: against the
global preference model (which reads no history either), it says whether the model's floor holds.
With --against-cold, --against is scored with no history too, so two designs' floors are paired.
"""
import argparse
import os

import numpy as np

from .bench_seeds import baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, show_paired
from .bench_train_time import integers
from .data import eval_users, read_dataset
from .evaluate import evaluate_per_user, model_scorer, no_history_scorer
from .export import load_checkpoint

METRICS = ("pairwise", "top-1")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="the data the models were trained on (the baselines fit it)")
    parser.add_argument("--test", required=True, help="the users they are measured on")
    parser.add_argument("--models", required=True, help="a folder of seedS/ckpt.pt")
    parser.add_argument("--against", required=True,
                        help="another folder of seedS/ckpt.pt, the same seeds; or several, comma-separated, each put against --models")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-ref", type=int, default=8, help="EVAL-1(n): the history size per kind")
    parser.add_argument("--every-baseline", action="store_true",
                        help="also --models against every baseline row, not only the best at each metric")
    parser.add_argument("--cold", action="store_true",
                        help="--models scored with no history (one masked slot, as the API scores a user with no likes "
                             "yet) on the same pairs; --against and the baselines read the histories as before")
    parser.add_argument("--against-cold", action="store_true",
                        help="--against scored with no history too, so --models' floor is paired with theirs")
    args = parser.parse_args(argv)
    args.seed_list = integers(parser, "--seeds", args.seeds)
    args.against_list = [folder for folder in args.against.split(",") if folder]
    if not args.against_list:
        parser.error("--against: no folder given")
    check_checkpoints(parser, "--models", args.models, args.seed_list)
    for folder in args.against_list:
        check_checkpoints(parser, "--against", folder, args.seed_list)
    return args


def check_checkpoints(parser, flag, folder, seeds):
    """The parser's error naming `flag` where folder/seedS/ckpt.pt is missing for a seed."""
    for seed in seeds:
        path = os.path.join(folder, f"seed{seed}", "ckpt.pt")
        if not os.path.isfile(path):
            parser.error(f"{flag}: {path} not found (one seedS/ckpt.pt per seed of --seeds)")


def rows_by_seed(folder, seeds, vectors, users, cold=False):
    """[evaluate_per_user rows] of the models in folder/seedS/ckpt.pt, one list per seed; with
    `cold`, each user's history withheld."""
    scorer = no_history_scorer if cold else model_scorer
    rows = []
    for seed in seeds:
        model, _ = load_checkpoint(os.path.join(folder, f"seed{seed}", "ckpt.pt"))
        rows.append(evaluate_per_user(scorer(model, vectors), users))
    return rows


def rates_by_seed(folder, seeds, vectors, users, cold=False):
    """{metric: [seeds, users] per-user rates} of the models in folder/seedS/ckpt.pt."""
    runs = [per_user_rates(rows) for rows in rows_by_seed(folder, seeds, vectors, users, cold)]
    return {metric: np.array([run[k] for run in runs]) for k, metric in enumerate(METRICS)}


def datasets_and_users(args):
    """(--train's dataset, --test's, the test users EVAL-1(--n-ref) evaluates); exits saying so
    where it evaluates none."""
    train, test = read_dataset(args.train), read_dataset(args.test)
    users = eval_users(test, args.n_ref)
    if not users:
        raise SystemExit(f"EVAL-1({args.n_ref}) evaluates no user of {args.test}: try a smaller --n-ref")
    return train, test, users


def main(argv=None):
    args = parse(argv)
    train, test, users = datasets_and_users(args)
    # One --against keeps its flag as its name; several are named by their folders.
    against = {("--against" if len(args.against_list) == 1 else folder):
               rates_by_seed(folder, args.seed_list, test.vectors, users, args.against_cold)
               for folder in args.against_list}
    sets = {"--models": rates_by_seed(args.models, args.seed_list, test.vectors, users, args.cold), **against}
    baseline_rows = baseline_results(train, test, users)
    best = best_baselines(baseline_rows)
    baseline = {metric: per_user_rates(baseline_rows[best[metric]])[k] for k, metric in enumerate(METRICS)}

    cold = "".join(f" ({flag} with no history: the users' histories withheld)"
                   for flag, withheld in (("--models", args.cold), ("--against", args.against_cold)) if withheld)
    print(f"\n### {args.models} against {args.against} on {args.test}: {len(users)} users under EVAL-1({args.n_ref}){cold}, "
          f"seeds {args.seeds}\n")
    # Levels as the differences are taken: each seed's mean over users of the users' rates.
    print("| models | pairwise (mean over users) | top-1 (mean over users) |")
    print("|---|---|---|")
    for name, rates in sets.items():
        per_seed = {m: np.nanmean(rates[m], axis=1) for m in METRICS}
        cells = [f"{per_seed[m].mean():.2f} ({', '.join(f'{v:.2f}' for v in per_seed[m])})" for m in METRICS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for metric in METRICS:
        print(f"| best {metric} baseline: {best[metric]} | {np.nanmean(baseline[metric]):.2f} ({metric}) | |")

    print("\n| difference | metric | over users | over seeds and users | verdict | users |")
    print("|---|---|---|---|---|---|")
    for metric in METRICS:
        a = sets["--models"][metric]
        for name, rates in against.items():
            b = rates[metric]
            print(f"| --models − {name} | {metric} | "
                  + show_paired(paired(a.mean(0), b.mean(0)), bootstrap_paired(a, b, same_seeds=True)) + " |")
        for name, rates in sets.items():
            print(f"| {name} − best baseline | {metric} | " + against_baseline(rates[metric], baseline[metric]) + " |")
    if args.every_baseline:
        print_every_baseline(sets["--models"], baseline_rows)
    print(f"\ncommand: npm run bench:versus -- --train {args.train} --test {args.test} --models {args.models} "
          f"--against {args.against} --seeds {args.seeds} --n-ref {args.n_ref}" + (" --every-baseline" if args.every_baseline else "")
          + (" --cold" if args.cold else "") + (" --against-cold" if args.against_cold else ""))


def print_every_baseline(models, baseline_rows):
    """--models (its {metric: [seeds, users]} rates) against each baseline row, as against the best."""
    print("\n| baseline | metric | baseline (mean over users) | --models − baseline, over users | over seeds and users | verdict | users |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in baseline_rows.items():
        rates = per_user_rates(rows)
        for k, metric in enumerate(METRICS):
            print(f"| {name} | {metric} | {np.nanmean(rates[k]):.2f} | " + against_baseline(models[metric], rates[k]) + " |")


def against_baseline(runs, baseline):
    """show_paired's cells for [seeds, users] rates against a baseline's per-user rates: the
    baseline is one deterministic "seed", drawn apart from the models' seeds."""
    return show_paired(paired(runs.mean(0), baseline), bootstrap_paired(runs, baseline))


if __name__ == "__main__":
    main()
