"""How much of a user's history the model should read at serving (issue 14, item 4).

The API gives the model a user's latest HISTORY_PER_KIND likes and latest HISTORY_PER_KIND
dislikes. This measures, on test users the models never saw, the accuracy at each history
length on the same users and the same targets: each user's interactions in time order, the
first `pool` likes and `pool` dislikes form the pool (EVAL-1(pool)'s history) and the rest are
the targets (EVAL-1's pairs and top-k groups). At length n the model reads the pool's latest n
likes and n dislikes (what the API takes: the ones nearest the targets), or, to see what
recency is worth, the pool's earliest n of each. Each model's per-user accuracy is averaged
over the models given (training seeds) first; differences are paired user by user against
n = `--against` (8, today's default), with standard errors and 95% intervals.

    /usr/bin/python3 -m trainer.bench_history --data DIR/test --models A/ckpt.pt,B/ckpt.pt \\
        [--per-kind 2,4,8,16,32] [--against 8]
"""
import argparse
import sys

import numpy as np

from .bench_seeds import paired, per_user_rates, show_difference
from .data import read_dataset, eval_users
from .evaluate import evaluate_per_user, model_scorer, summarize
from .export import load_checkpoint


def with_history(users, n, latest=True):
    """The same users and targets, the history cut to n likes and n dislikes of the pool."""
    out = []
    for u in users:
        ordered = sorted(u.history, key=lambda r: (r.ts, r.line))
        likes = [r for r in ordered if r.label == 1]
        dislikes = [r for r in ordered if r.label == 0]
        pick = (lambda rows: rows[-n:]) if latest else (lambda rows: rows[:n])
        out.append(type(u)(user=u.user, history=pick(likes) + pick(dislikes), pairs=u.pairs, groups=u.groups))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a dataset directory of test users (CONTRACTS.md section 1)")
    p.add_argument("--models", required=True, help="comma-separated ckpt.pt paths (e.g. one per training seed)")
    p.add_argument("--per-kind", default="2,4,8,16,32")
    p.add_argument("--against", type=int, default=8)
    args = p.parse_args(argv)
    lengths = sorted({int(x) for x in args.per_kind.split(",")})
    pool = max(lengths)
    dataset = read_dataset(args.data)
    users = eval_users(dataset, n_ref=pool)
    if len(users) < 2:
        sys.exit(f"{args.data}: only {len(users)} users have {pool} likes and {pool} dislikes before their targets; lower --per-kind")
    models = [load_checkpoint(path)[0] for path in args.models.split(",")]
    variants = [(n, True) for n in lengths] + [(n, False) for n in lengths if n < pool]
    rates, summaries = {}, {}
    for n, latest in variants:
        cut = with_history(users, n, latest)
        runs = [evaluate_per_user(model_scorer(m, dataset.vectors), cut) for m in models]
        per_model = [per_user_rates(rows) for rows in runs]
        rates[(n, latest)] = tuple(np.nanmean(np.stack([r[k] for r in per_model]), axis=0) for k in (0, 1))
        summaries[(n, latest)] = [summarize(rows) for rows in runs]

    def mean(key, metric):
        return np.mean([s[metric] for s in summaries[key]])

    print(f"\n### History length at serving, on {args.data}: {len(users)} users with {pool} + {pool} before their targets, "
          f"{summaries[(pool, True)][0]['pairs']} pairs; {len(models)} model(s)\n")
    print("| likes + dislikes read | which | pairwise | top-1 | pairwise − latest " + f"{args.against} | top-1 − latest {args.against} |")
    print("|---|---|---|---|---|---|")
    base = rates[(args.against, True)]
    for n, latest in variants:
        r = rates[(n, latest)]
        d_pair = "-" if (n, latest) == (args.against, True) else show_difference(paired(r[0], base[0]))
        d_top = "-" if (n, latest) == (args.against, True) else show_difference(paired(r[1], base[1]))
        print(f"| {n} + {n} | {'latest' if latest else 'earliest'} | {mean((n, latest), 'pairwise'):.1f} | {mean((n, latest), 'top1'):.1f} | {d_pair} | {d_top} |")
    print(f"\ncommand: /usr/bin/python3 -m trainer.bench_history {' '.join(argv if argv is not None else sys.argv[1:])}")


if __name__ == "__main__":
    main()
