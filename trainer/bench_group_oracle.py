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
without the labels (em_mixture), used as the second scorer is: can the groups be found at all
from these users' histories. All are paired, user by user, against the global regression and the
per-user regression at its best pull on the test users (the best baselines of bench:seeds).
"""
import argparse
import os

import numpy as np

from . import baselines
from .bench_seeds import paired, per_user_rates, show_difference
from .data import eval_users, read_dataset
from .evaluate import evaluate_per_user, summarize


def _features(vectors, items):
    """The items' vectors with the bias column, as the regressions' weights expect."""
    return baselines._with_bias(vectors[items].astype(np.float64))


def _log_likelihoods(W, x, labels):
    """[classes]: the log-likelihood of these labels under each class's regression."""
    logits = x @ W.T
    return (labels[:, None] * -np.logaddexp(0, -logits) + (1 - labels[:, None]) * -np.logaddexp(0, logits)).sum(0)


def mixture_scorer(vectors, W, prior):
    """Candidates scored by the classes' like probabilities, weighted by the user's posterior over
    classes given the history's likes and dislikes."""
    def score(h_items, h_labels, candidates):
        loglik = _log_likelihoods(W, _features(vectors, h_items), h_labels) + np.log(prior)
        posterior = np.exp(loglik - loglik.max())
        return (1 / (1 + np.exp(-(_features(vectors, candidates) @ W.T)))) @ (posterior / posterior.sum())
    return score


def em_mixture(train, w_global, k, iterations=30, seed=0):
    """A mixture of k logistic regressions over the training users, fitted by EM without group
    labels: each user belongs to one class, the E-step weighs the classes by how well each explains
    all of the user's likes and dislikes, the M-step refits each class's regression on every
    interaction weighted by its user's responsibility (pulled towards the global regression)."""
    rng = np.random.default_rng(seed)
    users = list(train.users)
    items = [[r.item for r in train.users[u]] for u in users]
    x = [_features(train.vectors, i) for i in items]
    y = [np.array([r.label for r in train.users[u]], np.float64) for u in users]
    responsibility = rng.dirichlet(np.ones(k), len(users))           # [users, k], a random start
    all_vectors, all_y = train.vectors[np.concatenate(items)], np.concatenate(y)
    owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(y)])
    W = np.tile(w_global, (k, 1))
    for _ in range(iterations):
        for c in range(k):
            W[c] = baselines.fit_logistic(all_vectors, all_y, prior=w_global, steps=15, weight=responsibility[owner, c])
        prior = responsibility.mean(0)
        loglik = np.stack([_log_likelihoods(W, xi, yi) for xi, yi in zip(x, y)]) + np.log(prior)
        responsibility = np.exp(loglik - loglik.max(1, keepdims=True))
        responsibility /= responsibility.sum(1, keepdims=True)
    return W, responsibility.mean(0)


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
    inferred = mixture_scorer(test.vectors, W, np.full(len(ids), 1.0 / len(ids)))

    learned = {k: em_mixture(train, w_global, k) for k in args.learned}
    top = baselines.upper_bound_shrink(users, test.vectors, w_global)
    rows = {
        "global regression": evaluate_per_user(baselines.global_scorer(test.vectors, w_global), users),
        f"per-user regression (pull {top}, best on the test users)": evaluate_per_user(baselines.per_user_scorer(test.vectors, w_global, top), users),
        "the user's true group's regression (oracle)": [row for u in users for row in evaluate_per_user(
            lambda h, l, c, w=W[ids.index(group[u.user])]: _features(test.vectors, c) @ w, [u])],
        "groups known, membership inferred from the history": evaluate_per_user(inferred, users),
        **{f"{k} classes learned without labels (EM), membership inferred from the history":
           evaluate_per_user(mixture_scorer(test.vectors, Wk, prior), users) for k, (Wk, prior) in learned.items()},
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
