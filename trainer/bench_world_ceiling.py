"""How far any model could lead the baselines in a synthetic world (issue 14): the world's ceiling,
from what its labels were drawn from.

npm run synth -- --out DIR ... --truth
npm run bench:ceiling -- --world DIR [--n-ref 8] [--references N] [--models DIR --seeds 0,1,2]   (python3 -m trainer.bench_world_ceiling)

bench:ceiling holds OpenBLAS to one thread: the scorers' matrices are small (32 x 32 Newton
steps, one user at a time), and OpenBLAS's threads only wait on each other. The 4,000-user
short-history world took 5 s on one thread and 167 s with the default threads (2 cores, two
trainings beside; the same tables). The chances are computed for the test users' images alone:
compared with every image of their style, the judged-once pairwise world's 60,000 images (5,000 a
style) took over 20 minutes (session 53), its 12,000 test images 6 min 55 s (session 54). With
`--references N` a choice's chance is averaged over N images of the style drawn once, not all of
them (sampled_learner.REFERENCES): faster, and coarser.

`--truth` writes DIR/truth/ (src/synth/dataset-writer.ts, writeTruth): each item's latent point,
each user's taste and group, each group's taste, the quality direction and its weight q, the
label noise T. A user's utility for an item at x is u = (1 - q) taste·x + q quality·x; a single
image is liked with probability σ(u / T), one image of a pair wins with σ(Δu / T). Three scorers
read it, on the test users of EVAL-1(n), paired user by user with the best baselines of
bench:seeds (the same rows, the same pairs):
- the user's own taste (an oracle: labels are still noisy, so this is the most any scorer can
  score, with or without history);
- the user's group's mean taste (an oracle told the group, not the user's own deviation);
- the world's model with the taste inferred from the history (Bayes): every group's taste
  distribution (mean and spread of its training users' true tastes), q, quality and T known, the
  user's taste the posterior mode under each group's prior given the history's likes and
  dislikes (pairs whose two images are both in the history as one choice), the groups weighed by
  their Laplace evidence. What an ideal learner of this world could do from n + n history items:
  a lead the target asks for that this scorer cannot show, no model can. It approximates that
  learner (a Gaussian prior, the Laplace evidence, a lone image of a choice left out); a model
  scoring above it would say the approximation is poor.
Each scores an item by the chance that a row of it is a like (like_probability_scorer): within one
choice that orders as the utility does, across choices it judges an image against its own style.
Two rows more come from trainer/sampled_learner.py: the Bayes predictive over the training users'
own tastes (no Gaussian, no mode), once with the history's choices read as choices and once from
what the model's ONNX inputs hold (no pair ids), which is what a model can be asked to approach.
The predictive scores above the posterior mode on the 64,000-user world (session 35): the mode's
row is the weaker approximation of the ideal learner where both can be computed.

A second table splits top-1 by what a group holds: a single liked image, or a choice's winner
(whose group may hold its own loser). No scorer knows which (the model's inputs hold no pair
ids), but the ideal learner and the model fall short of each other on one kind and not the other
(session 35). With `--models` (a folder of seedS/ckpt.pt, as bench:versus reads) the trained
models are rows of both tables.
"""
import argparse
import json
import os

import numpy as np

from .bench_seeds import baseline_results, best_baselines, paired, per_user_rates, show_difference
from .bench_train_time import integers
from .bench_versus import check_checkpoints, rows_by_seed
from .data import eval_users, read_dataset
from .evaluate import eval_request, evaluate_per_user, summarize
from .sampled_learner import REFERENCES, SampledLearner, like_chance, row_chances, sample_tastes


def read_truth(folder):
    """The world's truth as written by `npm run synth -- --truth`."""
    with open(os.path.join(folder, "world.json"), encoding="utf-8") as f:
        world = json.load(f)

    def csv_rows(name):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            next(f)
            return [line.rstrip("\n").split(",") for line in f]
    users = [(u, int(g)) for u, g in csv_rows("users.csv")]
    styles = np.array([int(s) for _, s in csv_rows("items.csv")])
    tastes = np.load(os.path.join(folder, "tastes.npy")).astype(np.float64)
    return {
        "latent": np.load(os.path.join(folder, "items.npy")).astype(np.float64),
        "style_items": [np.flatnonzero(styles == s) for s in range(styles.max() + 1)],
        "style": styles,
        "taste": {u: tastes[i] for i, (u, _) in enumerate(users)},
        "group": dict(users),
        "quality": np.array(world["quality"], np.float64),
        "q": float(world["qualityWeight"]),
        "noise": float(world["labelNoise"]),
    }


def group_priors(truth, train_users):
    """{group: (mean taste, per-coordinate variance, share)} over the training users' true tastes."""
    by_group = {}
    for u in train_users:
        by_group.setdefault(truth["group"][u], []).append(truth["taste"][u])
    total = sum(len(t) for t in by_group.values())
    priors = {}
    for g, tastes in sorted(by_group.items()):
        t = np.stack(tastes)
        mean = t.mean(0)
        priors[g] = (mean, float(((t - mean) ** 2).mean()), len(t) / total)
    return priors


def like_probability_scorer(truth, single_share, taste_of, references=REFERENCES):
    """Scores candidates by the chance that a row of this item, for this user, is a like: a single
    image is liked with σ(u / T); an image in a pair wins against another of its style (the world
    draws both from one style) with σ(Δu / T), averaged over that style's images. Mixed by the share
    of rows that are single images. Within one pair this orders as the utility does; across pairs
    (top-1's candidates are likes and dislikes of different choices) the utility alone would not:
    a liked image of a poor style can have less utility than a disliked image of a good one.
    `references`: how many of a style's images a choice is averaged over at most (row_chances)."""
    def score(h_items, h_labels, candidates):
        _, single, choice = row_chances(truth, np.asarray(taste_of(h_items, h_labels))[None, :], candidates, references)
        return like_chance(single, choice, single_share)[0]
    return score


def choices(truth, h_items, h_labels, h_pairs):
    """The history as logistic rows in the taste w: logit = (A w + b) / T, each row's label 1. A
    single image is (x, label); two images of one pair both in the history are one choice (winner
    − loser); a lone member of a pair says only that it beat (or lost to) an image not seen here,
    and is left out."""
    q, quality, latent = truth["q"], truth["quality"], truth["latent"]
    members = {}
    for item, label, pair in zip(h_items, h_labels, h_pairs):
        if pair:
            members.setdefault(pair, {})[label] = item
    rows, signs = [], []
    for item, label, pair in zip(h_items, h_labels, h_pairs):
        if not pair:
            rows.append(latent[item])
            signs.append(1.0 if label == 1 else -1.0)
        elif label == 1 and 0 in members[pair]:
            rows.append(latent[item] - latent[members[pair][0]])
            signs.append(1.0)
    if not rows:
        return np.zeros((0, latent.shape[1])), np.zeros(0)
    x = np.stack(rows) * np.array(signs)[:, None]
    return (1 - q) * x, q * (x @ quality)


def posterior_mode(A, b, noise, mean, variance, steps=30):
    """The taste maximising the history's likelihood under the prior N(mean, variance·I), and the
    Laplace approximation of the history's log evidence under that prior."""
    d = len(mean)

    def fit(w):
        """The logits, the like probabilities and the Hessian of the negative log posterior at w."""
        z = (A @ w + b) / noise
        p = 1 / (1 + np.exp(-z))
        return z, p, (A.T * (p * (1 - p))) @ A / noise ** 2 + np.eye(d) / variance

    w = mean.copy()
    for _ in range(steps):
        _, p, H = fit(w)
        step = np.linalg.solve(H, -(A.T @ (1 - p)) / noise + (w - mean) / variance)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    z, _, H = fit(w)
    log_lik = -np.logaddexp(0, -z).sum()
    evidence = log_lik - ((w - mean) ** 2).sum() / (2 * variance) - d / 2 * np.log(variance) - np.linalg.slogdet(H)[1] / 2
    return w, evidence


def bayes_taste(truth, priors, history_pairs):
    """taste_of for like_probability_scorer: the posterior mean taste over groups, each group's mode
    weighed by its share times its evidence. `history_pairs`: each history row's pair id, in the
    order evaluate_per_user passes the history (the scorer's interface passes items and labels
    only, and in a catalogue world one image can be in two of a user's choices)."""
    def taste_of(h_items, h_labels):
        assert len(history_pairs) == len(h_items)
        A, b = choices(truth, h_items, h_labels, history_pairs)
        modes, logs = [], []
        for mean, variance, share in priors.values():
            w, evidence = posterior_mode(A, b, truth["noise"], mean, variance)
            modes.append(w)
            logs.append(evidence + np.log(share))
        weights = np.exp(np.array(logs) - max(logs))
        return (np.stack(modes) * (weights / weights.sum())[:, None]).sum(0)
    return taste_of


def scorer_rows(truth, train, users, references=REFERENCES):
    """{name: evaluate_per_user rows} of the three truth-reading scorers."""
    priors = group_priors(truth, train.users)
    rows = [r for rs in train.users.values() for r in rs]
    single_share = sum(not r.pair for r in rows) / len(rows)

    def each_user(taste_of_user):
        return rows_by_user(users, lambda u: like_probability_scorer(truth, single_share, taste_of_user(u), references))

    def bayes(u):
        return bayes_taste(truth, priors, [r.pair for r in u.history])
    return {
        "the user's own taste (oracle: the most any scorer can score)":
            each_user(lambda u: lambda h, l, t=truth["taste"][u.user]: t),
        "the user's group's mean taste (oracle told the group)":
            each_user(lambda u: lambda h, l, t=priors[truth["group"][u.user]][0]: t),
        "the world's model, taste inferred from the history (Bayes: a Gaussian prior per group, the posterior mode)":
            each_user(bayes),
        **sampled_rows(truth, train, users, single_share, references),
    }


def sampled_rows(truth, train, users, single_share, references=REFERENCES):
    """{name: evaluate_per_user rows} of the sampled learner (trainer/sampled_learner.py) reading
    the history's choices as choices, and reading only what the model's inputs hold."""
    asked = [item for u in users for part in eval_request(u)[::2] for item in part]    # histories, candidates
    learner = SampledLearner(truth, sample_tastes(truth, train.users), single_share, asked, references)
    return {
        "the world's model by sampling (the Bayes predictive), choices read as choices":
            rows_by_user(users, lambda u: learner.scorer([r.pair for r in u.history])),
        "the world's model by sampling (the Bayes predictive), from the model's inputs alone (no pair ids)":
            rows_by_user(users, lambda u: learner.scorer()),
    }


def rows_by_user(users, scorer_of):
    """evaluate_per_user's rows, each user scored by a scorer of their own (scorer_of(user)): the
    truth-reading scorers need the user's pair ids or true taste, which a scorer is not passed."""
    return [row for u in users for row in evaluate_per_user(scorer_of(u), [u])]


GROUP_KINDS = ("a single liked image", "a choice's winner")


def group_kinds(dataset, users):
    """For each EvalUser, the kind of each of its top-k groups (GROUP_KINDS), in the order of
    `groups`: whether the like is a single image or a choice's winner."""
    kinds = []
    for u in users:
        pairs = {r.item: r.pair for r in dataset.users[u.user] if r.label == 1}
        kinds.append([GROUP_KINDS[1] if pairs[like] else GROUP_KINDS[0] for like, _ in u.groups])
    return kinds


def top1_by_kind(rows, kinds):
    """{kind: (groups, top-1 %)} from evaluate_per_user's rows and group_kinds' kinds, same users."""
    won = {kind: [] for kind in GROUP_KINDS}
    for row, user_kinds in zip(rows, kinds):
        for rank, kind in zip(row["ranks"], user_kinds):
            won[kind].append(rank < 1)
    return {kind: (len(w), 100.0 * float(np.mean(w)) if w else float("nan")) for kind, w in won.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", required=True, help="npm run synth's --out folder, written with --truth")
    parser.add_argument("--n-ref", type=int, default=8)
    parser.add_argument("--models", help="a folder of seedS/ckpt.pt trained on the world's train/: rows of both tables")
    parser.add_argument("--seeds", default="0,1,2", help="the seeds of --models")
    parser.add_argument("--references", type=int, default=REFERENCES,
                        help="a choice's chance is averaged over at most this many images of its style, drawn once (default: all of them)")
    args = parser.parse_args()
    if args.references is not None and args.references < 1:
        parser.error(f"--references: {args.references} is not a count of images (1 or more)")
    seeds = []
    if args.models:
        seeds = integers(parser, "--seeds", args.seeds)
        check_checkpoints(parser, "--models", args.models, seeds)

    truth_dir = os.path.join(args.world, "truth")
    if not os.path.isdir(truth_dir):
        parser.error(f"--world: {truth_dir} not found (write the world with `npm run synth -- ... --truth`)")
    train, test = read_dataset(os.path.join(args.world, "train")), read_dataset(os.path.join(args.world, "test"))
    truth = read_truth(truth_dir)
    users = eval_users(test, args.n_ref)
    baselines = baseline_results(train, test, users)
    best = best_baselines(baselines)
    models = rows_by_seed(args.models, seeds, test.vectors, users)     # none without --models
    rows = {**baselines, **scorer_rows(truth, train, users, args.references),
            **{f"the model in {args.models}, seed {seed}": r for seed, r in zip(seeds, models)}}

    print(f"\n### {args.world}: EVAL-1({args.n_ref}), {len(users)} test users\n")
    print("| scorer | pairwise | top-1 |\n|---|---|---|")
    for name, r in rows.items():
        s = summarize(r)
        print(f"| {name} | {s['pairwise']:.1f} | {s['top1']:.1f} |")
    print(f"\nBest baseline: pairwise {best['pairwise']}; top-1 {best['top-1']}.\n")
    print("| comparison, paired over users | pairwise | top-1 |\n|---|---|---|")
    for name in list(rows)[len(baselines):]:
        cells = []
        for metric, column in (("pairwise", 0), ("top-1", 1)):
            mine, theirs = per_user_rates(rows[name])[column], per_user_rates(rows[best[metric]])[column]
            cells.append(show_difference(paired(mine, theirs)))
        print(f"| {name} − best baseline | {cells[0]} | {cells[1]} |")
    kinds = group_kinds(test, users)
    print("\n| top-1 by what the group holds | " + " | ".join(f"{kind} (groups)" for kind in GROUP_KINDS) + " |")
    print("|---|" + "---|" * len(GROUP_KINDS))
    for name, r in rows.items():
        cells = [f"{top1:.1f} ({n})" for n, top1 in top1_by_kind(r, kinds).values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    shown = f" --references {args.references}" if args.references is not None else ""
    shown += f" --models {args.models} --seeds {args.seeds}" if args.models else ""
    print(f"\ncommand: npm run bench:ceiling -- --world {args.world} --n-ref {args.n_ref}{shown}")


if __name__ == "__main__":
    main()
