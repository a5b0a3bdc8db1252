"""Each weight of the served model moved on the test users, one at a time (issue 14, session 48):
where the served model trails the best baseline, whether a weight chosen better would close it.

python3 -m trainer.bench_served_weights --train DIR --test DIR --models DIR [--seeds 0,1,2] [--n-ref 8]

The served model weighs its parts on the tenant's few validation users (28-62 on MovieLens and
its unseen vectors), and the best baselines choose their shrink and weights on the test users
themselves. This bench asks what the served model would score at other weights: for each seed's
DIR/seedS/ckpt.pt, each weight below takes each value of its grid, the rest staying as served,
and the model is scored on the test users under EVAL-1(n). Choosing the best row is choosing on
the test users, an upper bound as the baselines' is; the served row says where the model stands.

- ensemble weight: the per-user regression's share of the network's log-odds (trainer/ensemble.py);
- regression pull: its shrink towards the training users' regression;
- item-rate weight: the rate's coefficient (trainer/item_rates.py);
- co-likes weight: the co-likes' coefficient over the model's log-odds (trainer/co_likes.py),
  its scale kept; where the model serves none, they are added around it, counted on every user
  of --train as the baselines count them, and the model's log-odds kept at scale 1;
- latent-class weight: likewise (trainer/served_latent_classes.py), the classes fitted as the
  baselines fit them where the model serves none.

A part the model lacks altogether (a network trained without the regression, --item-rates off)
has no rows, and neither have the regression's two weights of an average of networks
(--networks K), whose members each hold their own.
"""
import argparse
import dataclasses
import math

import numpy as np
import torch

from .bench_seeds import per_user_rates
from .bench_train_time import integers
from .bench_versus import check_checkpoints, datasets_and_users
from .co_likes import WithCoLikes, attach_co_likes, remembered_similarities
from .evaluate import evaluate_per_user, model_scorer
from .export import load_checkpoint
from .group_network import split
from .item_rates import WithItemRates
from .latent_classes import fit_latent_classes, tune_latent_classes
from .log_odds_part import LogOddsPart
from .model import PreferenceModel
from .served_latent_classes import WithLatentClasses, attach_latent_classes

ENSEMBLE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
PULLS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
RATE_WEIGHTS = (0.0, 0.3, 0.6, 1.0, 1.5, 2.0)
# The co-likes' and the classes' coefficients over the model's log-odds, 0 = without them.
CO_LIKE_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
CLASS_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="the data the models were trained on (parts they lack are counted on it)")
    parser.add_argument("--test", required=True, help="the users they are measured on")
    parser.add_argument("--models", required=True, help="a folder of seedS/ckpt.pt")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-ref", type=int, default=8, help="EVAL-1(n): the history size per kind")
    args = parser.parse_args(argv)
    args.seed_list = integers(parser, "--seeds", args.seeds)
    check_checkpoints(parser, "--models", args.models, args.seed_list)
    return args


def chain(model):
    """The served scoring model's layers, outermost first: its parts, then the network."""
    model, _ = split(model)
    layers = [model]
    while isinstance(layers[-1], LogOddsPart):
        layers.append(layers[-1].inner)
    return layers


def part_of(model, kind):
    """The layer of `model` that is a `kind` part, or None."""
    return next((layer for layer in chain(model) if isinstance(layer, kind)), None)


def reweigh(layer, **fields):
    """Sets config fields of one layer in place: the layer reads them at every forward pass."""
    layer.config = dataclasses.replace(layer.config, **fields)


def network_of(model):
    """The network the parts were added to, where it is one network with the regression attached."""
    inner = chain(model)[-1]
    return inner if isinstance(inner, PreferenceModel) and inner.config.regression_weight else None


def set_pull(network, pull):
    """Sets the attached regression's pull towards the training users' regression, in place."""
    with torch.no_grad():
        network.fit_pull.fill_(pull + math.log(-math.expm1(-pull)))   # softplus(raw) = pull


def served_pull(network):
    """The attached regression's pull as served."""
    return round(float(torch.nn.functional.softplus(network.fit_pull)), 3)


def knobs(train, test, seed):
    """(served(model) -> {name: the weight as served, or None}, [(name, values, moved, needs)]):
    moved(model, value) -> the model at that value, which may change the model in place, so each
    value is applied to a freshly loaded one; needs(model) is None where the model lacks the
    weight's part (None: every model has rows, the part being added where it lacks it)."""
    co_rows = {}
    classes = {}

    def moved_or_added(model, kind, value, added):
        """The model with its `kind` part's weight at `value` times its scale where it serves
        one, else with added(model, value) around it (nothing added at 0)."""
        part = part_of(model, kind)
        if part is not None:
            reweigh(part, **{kind.WEIGHT: value * getattr(part.config, kind.SCALE)})
            return model
        return added(model, value) if value else model

    def added_co_likes(model, c):
        if "rows" not in co_rows:
            # Counted on --train's rows, matched to --test's vectors by item id (items --test lacks left out).
            rows, (vectors, values) = remembered_similarities(train, sorted(train.users))
            row_of = {item: k for k, item in enumerate(test.item_ids)}
            kept = [k for k, r in enumerate(rows) if train.item_ids[r] in row_of]
            co_rows.update(rows=np.array([row_of[train.item_ids[rows[k]]] for k in kept], np.int64),
                           factors=(vectors[kept], values))
        return attach_co_likes(model, test.vectors, co_rows["rows"], co_rows["factors"], c)

    def added_classes(model, w):
        if not classes:
            k, _ = tune_latent_classes(train, seed=seed)
            classes["weights"], classes["prior"] = fit_latent_classes(train, k, seed)
        return attach_latent_classes(model, classes["weights"], classes["prior"], w)

    def with_ensemble(model, w):
        reweigh(network_of(model), regression_weight=w)
        return model

    def with_pull(model, pull):
        set_pull(network_of(model), pull)
        return model

    def with_rate(model, beta):
        reweigh(part_of(model, WithItemRates), item_rate_weight=beta)
        return model

    def ratio(part, weight, scale):
        return None if part is None else round(getattr(part.config, weight) / max(getattr(part.config, scale), 1e-12), 3)

    def served(model):
        network, rates = network_of(model), part_of(model, WithItemRates)
        return {
            "ensemble weight": None if network is None else network.config.regression_weight,
            "regression pull": None if network is None else served_pull(network),
            "item-rate weight": None if rates is None else rates.config.item_rate_weight,
            "co-likes weight": ratio(part_of(model, WithCoLikes), "co_like_weight", "co_like_scale") or 0.0,
            "latent-class weight": ratio(part_of(model, WithLatentClasses), "latent_class_weight", "latent_class_scale") or 0.0,
        }

    return served, [("ensemble weight", ENSEMBLE_WEIGHTS, with_ensemble, network_of),
                    ("regression pull", PULLS, with_pull, network_of),
                    ("item-rate weight", RATE_WEIGHTS, with_rate, lambda m: part_of(m, WithItemRates)),
                    ("co-likes weight", CO_LIKE_WEIGHTS, lambda m, c: moved_or_added(m, WithCoLikes, c, added_co_likes), None),
                    ("latent-class weight", CLASS_WEIGHTS, lambda m, w: moved_or_added(m, WithLatentClasses, w, added_classes), None)]


def main(argv=None):
    args = parse(argv)
    train, test, users = datasets_and_users(args)
    path = lambda seed: f"{args.models}/seed{seed}/ckpt.pt"

    def score(model):
        pairwise, top1 = per_user_rates(evaluate_per_user(model_scorer(model, test.vectors), users))
        return np.nanmean(pairwise), np.nanmean(top1)

    # {(name, value): [(pairwise, top-1) per seed]}, and each seed's served values.
    figures, served_values, served_figures = {}, [], []
    for seed in args.seed_list:
        served, moves = knobs(train, test, seed)
        model, _ = load_checkpoint(path(seed))
        served_values.append(served(model))
        served_figures.append(score(model))
        for name, values, moved, needs in moves:
            if needs is not None and needs(model) is None:
                continue
            for value in values:
                figures.setdefault((name, value), []).append(score(moved(load_checkpoint(path(seed))[0], value)))

    level = np.mean(served_figures, axis=0)
    print(f"\n### {args.models} on {args.test}: {len(users)} users under EVAL-1({args.n_ref}), seeds {args.seeds}, "
          "one weight moved at a time\n")
    print(f"As served: pairwise {level[0]:.2f}, top-1 {level[1]:.2f} (means over seeds of the means over users).\n")
    print("| weight | served (seeds) | value | pairwise (seeds) | top-1 (seeds) | − served, pairwise / top-1 |")
    print("|---|---|---|---|---|---|")
    for (name, value), rows in figures.items():
        if len(rows) != len(args.seed_list):
            continue   # a weight some seeds' models lack: no mean over the seeds to show
        rows = np.array(rows)
        shown = ", ".join("-" if s[name] is None else f"{s[name]:g}" for s in served_values)
        cells = [f"{rows[:, k].mean():.2f} ({', '.join(f'{v:.2f}' for v in rows[:, k])})" for k in range(2)]
        gain = rows.mean(axis=0) - level
        print(f"| {name} | {shown} | {value:g} | {cells[0]} | {cells[1]} | {gain[0]:+.2f} / {gain[1]:+.2f} |")
    print(f"\ncommand: npm run bench:served-weights -- --train {args.train} --test {args.test} --models {args.models} "
          f"--seeds {args.seeds} --n-ref {args.n_ref}")


if __name__ == "__main__":
    main()
