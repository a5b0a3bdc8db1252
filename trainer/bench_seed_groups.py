"""How much averaging trained models of several seeds would add, from bench:seeds' saved models
(issue 14, session 17): each seed's full model with the regression ensemble (its own split and
weight, as bench:seeds builds it), then the log-odds of each group of seeds averaged, against
the best baseline and against the single models. What `trainer.train --networks K` builds,
except that there the networks share one validation split.

python3 -m trainer.bench_seed_groups --train DIR --test DIR --work DIR --seeds 0,1,2 [--groups 0+1,1+2] [--n-ref 8]

Without --groups, every pair of the seeds.
"""
import itertools
import os

import numpy as np

from .bench_seeds import (FULL, baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, saved_models_parser,
                          shipped_ensemble, slug)
from .data import eval_users, read_dataset
from .ensemble import attach_regression, log_odds_scorer
from .evaluate import evaluate_per_user
from .export import load_checkpoint

METRICS = ("pairwise", "top-1")


def main():
    parser = saved_models_parser(__doc__)
    parser.add_argument("--groups", help="groups of seeds joined by +, comma-separated (default: every pair)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    groups = ([tuple(int(s) for s in g.split("+")) for g in args.groups.split(",")] if args.groups
              else list(itertools.combinations(seeds, 2)))
    train, test = read_dataset(args.train), read_dataset(args.test)
    users = eval_users(test, args.n_ref)

    ensembles = {}
    for seed in seeds:
        model, _ = load_checkpoint(os.path.join(args.work, f"seed{seed}-{slug(FULL)}", "ckpt.pt"))
        w_regression, shrink, weight, _ = shipped_ensemble(model, train, seed, args.val_share)
        ensembles[seed] = log_odds_scorer(attach_regression(model, w_regression, shrink, weight), test.vectors)

    def averaged(group):
        return lambda h, l, c: np.mean([ensembles[s](h, l, c) for s in group], axis=0)

    baselines = baseline_results(train, test, users)
    best = best_baselines(baselines)
    reference = {m: per_user_rates(baselines[best[m]])[i] for i, m in enumerate(METRICS)}
    singles = [per_user_rates(evaluate_per_user(ensembles[s], users)) for s in seeds]
    grouped = [per_user_rates(evaluate_per_user(averaged(g), users)) for g in groups]
    print(f"EVAL-1({args.n_ref}) on {args.test}: {len(users)} users; groups {['+'.join(map(str, g)) for g in groups]}\n")
    print("| models | metric | − best baseline, over users | over seeds and users |\n|---|---|---|---|")
    for name, runs in ((f"single seeds ({len(singles)})", singles), (f"groups averaged ({len(grouped)})", grouped)):
        for i, metric in enumerate(METRICS):
            over_users = paired(np.mean([r[i] for r in runs], 0), reference[metric])
            both = bootstrap_paired(np.array([r[i] for r in runs]), reference[metric])
            print(f"| {name} | {metric} | {over_users['mean']:+.2f} ± {over_users['se']:.2f} | ± {both['se']:.2f} |")
    for i, metric in enumerate(METRICS):
        gain = paired(np.mean([r[i] for r in grouped], 0), np.mean([r[i] for r in singles], 0))
        print(f"| groups − single seeds | {metric} | {gain['mean']:+.2f} ± {gain['se']:.2f} | |")
    print(f"\ncommand: python3 -m trainer.bench_seed_groups --train {args.train} --test {args.test} --work {args.work} "
          f"--seeds {args.seeds}" + (f" --groups {args.groups}" if args.groups else "") + f" --n-ref {args.n_ref}")


if __name__ == "__main__":
    main()
