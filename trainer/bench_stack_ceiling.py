"""How far the network could lift the best baseline at most, from bench:seeds' saved models (issue 14,
session 25): the best baseline's own parts (the per-user regression and the item like rate, the
co-likes, user-kNN since session 26) plus each seed's network, every weight and the regression's
shrink chosen on the test users themselves.

npm run bench:stack-ceiling -- --train DIR --test DIR --work DIR --seeds 0,1,2 [--n-ref 8]
(python3 -m trainer.bench_stack_ceiling; --work is a bench:seeds folder whose full models are the network alone,
as bench:seeds trains them without --train-args --ensemble)

The mix scored is  a * network + regression(shrink) + rate + c * co-likes + u * user-kNN  (log-odds;
the co-likes and user-kNN in [-1, 1]), (shrink, a, c, u) those of baselines.UPPER_BOUND_SHRINK_GRID x
NETWORK_WEIGHTS x CO_LIKE_WEIGHTS x USER_KNN_WEIGHTS best pairwise on the test users, for each
seed (the shrink with the weights since session 27, as the summed baselines choose it). Where
the best baseline is one of the summed baselines (MovieLens, unseen vectors), a = 0 with its
shrink and weights is that baseline, so the mix never scores below it pairwise; where it is
another row (the regression alone on the default world, the pairwise preferences on choice
worlds) the mix can. Choosing four settings on the same users it is scored on flatters it: it is
an upper bound on what any served combination of these parts could lead by, the weights fitted
on users it is not scored on. If it does not lead the best baseline by 2 standard errors, no
model made of these parts will.
"""
import itertools
import os

import numpy as np

from . import baselines
from .bench_seeds import (FULL, baseline_results, best_baselines, bootstrap_paired, paired, per_user_rates, saved_models_parser, slug,
                          summed_baseline_parts, verdict)
from .data import eval_users, read_dataset
from .ensemble import log_odds_scorer
from .evaluate import evaluate_per_user, summarize
from .export import load_checkpoint

NETWORK_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0)
CO_LIKE_WEIGHTS = (0.0,) + baselines.CO_LIKE_WEIGHTS
USER_KNN_WEIGHTS = (0.0,) + baselines.USER_KNN_WEIGHTS
METRICS = ("pairwise", "top-1")


def mixed(regression_and_rate, parts, weights):
    """The scorer regression_and_rate[shrink] + a * network + c * co-likes + u * user-kNN, for
    `weights` (shrink, a, c, u) and `parts` (network, co-likes, user-kNN: memoized scorers, None
    where the tenant lacks one and its weight is 0)."""
    shrink, *part_weights = weights
    return baselines.weighted_parts(regression_and_rate[shrink], zip(part_weights, parts))


def main():
    args = saved_models_parser(__doc__).parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    train, test = read_dataset(args.train), read_dataset(args.test)
    users = eval_users(test, args.n_ref)

    # The best baseline's parts, the same objects bench:seeds' rows are scored with.
    summed = summed_baseline_parts(train, test, users)
    regression_and_rate = summed["regression_and_rate"]
    co_likes, knn_part = summed["co_likes"], summed["user_knn"]
    user_knn = knn_part[0] if knn_part is not None else None
    # Parts a tenant lacks (no item rated twice, none rated in training) are tried at 0 only.
    co_grid = CO_LIKE_WEIGHTS if co_likes is not None else (0.0,)
    knn_grid = USER_KNN_WEIGHTS if user_knn is not None else (0.0,)

    rows = baseline_results(train, test, users, summed)
    best = best_baselines(rows)
    reference = {m: per_user_rates(rows[best[m]])[i] for i, m in enumerate(METRICS)}
    runs, chosen, alone = [], [], None
    for seed in seeds:
        network, _ = load_checkpoint(os.path.join(args.work, f"seed{seed}-{slug(FULL)}", "ckpt.pt"))
        parts = (baselines.memoized(log_odds_scorer(network, test.vectors)), co_likes, user_knn)
        results = {weights: evaluate_per_user(mixed(regression_and_rate, parts, weights), users)
                   for weights in itertools.product(regression_and_rate, NETWORK_WEIGHTS, co_grid, knn_grid)}
        best_weights = max(results, key=lambda k: summarize(results[k])["pairwise"])
        chosen.append(best_weights)
        runs.append(per_user_rates(results[best_weights]))
        if alone is None:
            # The baseline's parts alone (a = 0) at the shrink and weights best on the test users
            # over the whole grid: the same for every seed.
            alone_weights = max(itertools.product(regression_and_rate, co_grid, knn_grid),
                                key=lambda scu: summarize(results[(scu[0], 0.0, *scu[1:])])["pairwise"])
            alone = per_user_rates(results[(alone_weights[0], 0.0, *alone_weights[1:])])
    print(f"EVAL-1({args.n_ref}) on {args.test}: {len(users)} users; seeds {seeds}; the shrink and weights chosen on the test users "
          f"(shrink, network, co-likes, user-kNN): {chosen}\n")
    print("| metric | ceiling − best baseline, over users | over seeds and users | 2 SE |\n|---|---|---|---|")
    for i, metric in enumerate(METRICS):
        over_users = paired(np.mean([r[i] for r in runs], 0), reference[metric])
        both = bootstrap_paired(np.array([r[i] for r in runs]), reference[metric])
        print(f"| {metric} | {over_users['mean']:+.2f} ± {over_users['se']:.2f} | ± {both['se']:.2f} | "
              f"{verdict(over_users['mean'], both['se'])} |")
    print(f"\nThe baseline's parts alone at the shrink and weights (shrink, co-likes, user-kNN) best on the test users over "
          f"{tuple(regression_and_rate)} x {co_grid} x {knn_grid}: "
          f"{alone_weights}\n")
    print("| metric | those parts − best baseline | ceiling − those parts, over users | over seeds and users |\n|---|---|---|---|")
    for i, metric in enumerate(METRICS):
        widened = paired(alone[i], reference[metric])
        gain = paired(np.mean([r[i] for r in runs], 0), alone[i])
        both = bootstrap_paired(np.array([r[i] for r in runs]), alone[i])
        print(f"| {metric} | {widened['mean']:+.2f} ± {widened['se']:.2f} | {gain['mean']:+.2f} ± {gain['se']:.2f} | ± {both['se']:.2f} |")
    print(f"\nbest baselines: {best}")
    print(f"\ncommand: python3 -m trainer.bench_stack_ceiling --train {args.train} --test {args.test} --work {args.work} "
          f"--seeds {args.seeds} --n-ref {args.n_ref}")


if __name__ == "__main__":
    main()
