"""What knowing a synthetic world's taste groups is worth (issue 14, session 16): a ceiling for
what preference tokens could add there, at the history length EVAL-1 reads.

python3 -m trainer.bench_group_oracle --world DIR [--n-ref 8] [--learned 4,8]

The world is `npm run synth`'s output (train/ and test/, users.csv naming each user's group).
Each group's logistic regression is fitted on the training users of that group (pulled towards
the global regression). Two scorers use them on the test users:
- the user's true group's regression (an oracle: no model is told the group);
- the groups' regressions mixed by each user's posterior over groups given their history's
  likes and dislikes (uniform prior): what a model that had learned the world's group tastes
  perfectly could do from that history.
With --learned, also mixtures of that many regressions fitted on the training users by EM
without the labels (trainer/latent_classes.py, pulled towards the global regression as the
groups' are), used as the second scorer is: can the groups be found at all from these users'
histories. Since session 28 that mixture, its K chosen on training users, is a baseline of
bench:seeds. All are paired, user by user, against the global regression and the
per-user regression at its best pull on the test users (the best baselines of bench:seeds).
"""
import argparse
import os

import numpy as np

from . import baselines
from .bench_seeds import paired, per_user_rates, show_difference
from .data import eval_users, read_dataset
from .evaluate import evaluate_per_user, summarize
from .latent_classes import fit_latent_classes, latent_class_scorer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", required=True, help="npm run synth's --out folder")
    parser.add_argument("--n-ref", type=int, default=8)
    parser.add_argument("--learned", type=lambda v: [int(k) for k in v.split(",")], default=[], metavar="K,K",
                        help="also classes learned without labels (EM), this many")
    args = parser.parse_args()

    train, test = read_dataset(os.path.join(args.world, "train")), read_dataset(os.path.join(args.world, "test"))
    group = {**train.groups, **test.groups}   # users.csv's group of each user
    users = eval_users(test, args.n_ref)
    w_global = baselines.global_weights(train)
    ids = sorted(set(group.values()))
    by_group = {g: [r for u, rows in train.users.items() if group.get(u) == g for r in rows] for g in ids}
    W = np.stack([baselines.fit_logistic(train.vectors[[r.item for r in by_group[g]]], [r.label for r in by_group[g]], prior=w_global)
                  for g in ids])
    inferred = latent_class_scorer(test.vectors, W, np.full(len(ids), 1.0 / len(ids)))

    learned = {k: fit_latent_classes(train, k, pull_to=w_global) for k in args.learned}
    top = baselines.upper_bound_shrink(users, test.vectors, w_global)
    rows = {
        "global regression": evaluate_per_user(baselines.global_scorer(test.vectors, w_global), users),
        f"per-user regression (pull {top}, best on the test users)": evaluate_per_user(baselines.per_user_scorer(test.vectors, w_global, top), users),
        "the user's true group's regression (oracle)": [row for u in users for row in evaluate_per_user(
            lambda h, l, c, w=W[ids.index(group[u.user])]: baselines._with_bias(test.vectors[c].astype(np.float64)) @ w, [u])],
        "groups known, membership inferred from the history": evaluate_per_user(inferred, users),
        **{f"{k} classes learned without labels (EM), membership inferred from the history":
           evaluate_per_user(latent_class_scorer(test.vectors, Wk, prior), users) for k, (Wk, prior) in learned.items()},
    }
    print(f"\n### {args.world}: EVAL-1({args.n_ref}), {len(users)} test users in {len(ids)} groups\n")
    print("| scorer | pairwise | top-1 |\n|---|---|---|")
    for name, r in rows.items():
        s = summarize(r)
        print(f"| {name} | {s['pairwise']:.1f} | {s['top1']:.1f} |")
    print("\n| comparison | pairwise | top-1 |\n|---|---|---|")
    names = list(rows)
    for a in names[2:]:
        for b in names[:2]:
            ra, rb = per_user_rates(rows[a]), per_user_rates(rows[b])
            print(f"| {a} − {b} | {show_difference(paired(ra[0], rb[0]))} | {show_difference(paired(ra[1], rb[1]))} |")
    flag = f" --learned {','.join(map(str, args.learned))}" if args.learned else ""
    print(f"\ncommand: python3 -m trainer.bench_group_oracle --world {args.world} --n-ref {args.n_ref}{flag}")


if __name__ == "__main__":
    main()
