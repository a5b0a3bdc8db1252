"""The model's lead with intervals (issue 14): every variant trained with several seeds on
--train and evaluated under EVAL-1 on --test (users no variant saw; the same users and pairs for
every seed). Each row is the mean over seeds and its standard error; the full model is then
compared with the best baseline, and each ablation with the variant above it, user by user on
the same pairs: the mean per-user difference (the model's figures averaged over seeds first)
with its standard error over users and a 95% interval, for pairwise and top-1 accuracy.

python3 -m trainer.bench_seeds --train DIR --test DIR [--seeds 0,1,2] [--epochs 10] [--n-ref 8] [--work DIR]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import baselines
from .data import eval_users, parse_val_share, read_dataset, subset, validation_split
from .ensemble import attach_regression, choose_weight, fit_regression, weight_users
from .evaluate import evaluate_per_user, model_scorer, summarize
from .export import load_checkpoint
from .kernels import describe
from .choice_prior import add_choice_prior
from .co_likes import add_co_likes
from .served_latent_classes import add_latent_classes
from .item_rates import add_item_rates
from .latent_classes import latent_class_part, latent_class_scorers

VARIANTS = {
    "L_base": ["--loss", "base", "--tokens", "0"],
    "L_base + L_CP": ["--loss", "all", "--tokens", "0"],
    "full (L_base + L_CP + P_v)": ["--loss", "all", "--tokens", "10"],
}
FULL = "full (L_base + L_CP + P_v)"
FLOOR = "full + global floor"
FLOOR_FLAGS = ["--loss", "all", "--tokens", "10", "--global-floor"]
ENSEMBLE = "full + regression ensemble (weight fitted on validation users)"
ENSEMBLE_EVEN = "full + regression ensemble (even weight 0.5)"
# Names the summed baseline whose choices are made on users it does not score (baseline_results).
CROSS_FITTED = "chosen on the other half of the test users"


def extra_variants(specs):
    """--variant NAME=FLAGS, each the full model's flags and then these: {"full + NAME": flags}."""
    extra = {}
    for spec in specs:
        name, sep, flags = spec.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--variant: expected NAME=FLAGS, got {spec!r}")
        extra[f"full + {name.strip()}"] = [*VARIANTS[FULL], *flags.split()]
    return extra


def ensemble_of(variant):
    """The row of a --variant's models averaged with the regression at the fitted weight."""
    return f"{variant} + regression ensemble (weight fitted on validation users)"


def shipped_ensemble(model, train, seed, val_share):
    """What `trainer.train --ensemble auto` would attach to this model: the same split, the same
    training users for the regression, the same validation users for the weight (without them,
    the even average). (w_regression, shrink, weight, the validation users it was fitted on)."""
    train_ids, val_ids, val_n, val_users = validation_split(train, val_share, seed)
    w_regression, shrink = fit_regression(subset(train, train_ids), seed)
    _, weighed_on = weight_users(train, train_ids, val_ids, val_n, val_users)
    weight = choose_weight(model, w_regression, shrink, weighed_on, train.vectors)[0] if weighed_on else 0.5
    return w_regression, shrink, weight, weighed_on


def with_rates(ensemble_label):
    """The row of an ensemble's models with the items' like rates added as the trainer adds them."""
    return f"{ensemble_label} + item like rates"


def with_co_likes(label):
    """The row of a model with the co-likes added as the trainer adds them."""
    return f"{label} + co-likes"


def with_latent_classes(label):
    """The row of a model with the latent classes added as the trainer adds them."""
    return f"{label} + latent classes"


def with_prior(label):
    """The row of a model with the choice prior added as the trainer adds it."""
    return f"{label} + choice prior"


def saved_models_parser(description):
    """The arguments of a bench that reads bench:seeds' saved models (trainer.bench_seed_groups,
    trainer.bench_rate_weight): the same data, --work folder and seeds as that run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--work", required=True, help="bench:seeds' --work folder")
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--n-ref", type=int, default=8)
    parser.add_argument("--val-share", type=parse_val_share, default=None, metavar="auto|S",
                        help="as the models were trained with (default auto, the trainer's)")
    return parser


def slug(name):
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def per_user_rates(rows):
    """Each user's pairwise and top-1 accuracy (percent), in user order."""
    pairwise = np.array([100.0 * r["won"] / r["pairs"] if r["pairs"] else np.nan for r in rows])
    top1 = np.array([100.0 * np.mean([k < 1 for k in r["ranks"]]) if r["ranks"] else np.nan for r in rows])
    return pairwise, top1


def paired(a, b):
    """Mean over users of a - b, its standard error and 95% interval (normal), users with both."""
    d = a - b
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return {"mean": float(d.mean()) if len(d) else 0.0, "se": None, "users": len(d)}
    se = float(d.std(ddof=1) / math.sqrt(len(d)))
    return {"mean": float(d.mean()), "se": se, "low": float(d.mean() - 1.96 * se), "high": float(d.mean() + 1.96 * se), "users": len(d)}


def bootstrap_paired(a_runs, b_runs, replicates=4000, seed=0, same_seeds=False):
    """The paired difference with an interval over seeds and users together: each replicate draws
    the users with replacement and, for each side, its seeds with replacement (a baseline is one
    "seed"), averages each user's rate over the drawn seeds, then takes the mean difference over
    the drawn users. `a_runs`, `b_runs`: [seeds, users] per-user rates (NaN where a user has
    none). Returns the bootstrap SE (the replicates' standard deviation) and the 2.5% and 97.5%
    percentiles. The per-user SE of paired() leaves out how much training seeds disagree; this
    one does not (with K seeds the draw understates seed variance by a factor (K - 1) / K).

    With `same_seeds`, row k of both sides comes from training seed k (two stages of one
    checkpoint, or two designs trained with the same seeds): one draw of seeds serves both sides,
    so what the seeds share (a network both stages add to) cancels as the users' shared part does.
    Drawn apart, a stage that adds the same to every seed's network would carry the networks' whole
    spread over seeds."""
    a_runs, b_runs = np.atleast_2d(np.asarray(a_runs, float)), np.atleast_2d(np.asarray(b_runs, float))
    if same_seeds and len(a_runs) != len(b_runs):
        raise ValueError(f"same_seeds: both sides need a row per seed, got {len(a_runs)} and {len(b_runs)}")
    rng = np.random.default_rng(seed)
    both = ~np.isnan(a_runs).any(0) & ~np.isnan(b_runs).any(0)
    a_runs, b_runs = a_runs[:, both], b_runs[:, both]
    n = int(both.sum())
    if n < 2:
        return {"se": None, "low": None, "high": None}
    means = np.empty(replicates)
    for r in range(replicates):
        pick = rng.integers(0, n, n)
        seeds = rng.integers(0, len(a_runs), len(a_runs))
        a = a_runs[seeds][:, pick].mean(0)
        b = b_runs[seeds if same_seeds else rng.integers(0, len(b_runs), len(b_runs))][:, pick].mean(0)
        means[r] = (a - b).mean()
    low, high = np.percentile(means, [2.5, 97.5])
    return {"se": float(means.std(ddof=1)), "low": float(low), "high": float(high)}


def show_difference(p):
    """mean ± SE [95% interval], the cell a paired difference is shown in."""
    if p["se"] is None:
        return f"{p['mean']:+.2f} (n/a)"
    return f"{p['mean']:+.2f} ± {p['se']:.2f} [{p['low']:+.2f}, {p['high']:+.2f}]"


def verdict(mean: float, se: float) -> str:
    """Whether a paired difference is beyond 2 standard errors. Two sets that score every user
    alike (a change that trains the same weights) differ by 0 ± 0: the same scores, not a lead."""
    if mean == 0 and se == 0:
        return "the same scores"
    return "beyond 2 SE" if abs(mean) >= 2 * se else "within 2 SE"


def show_paired(p, boot):
    """Cells: over users | over seeds and users | verdict | users. The verdict uses the larger
    (seeds and users) standard error: a lead must hold against both kinds of chance."""
    if p["se"] is None or boot["se"] is None:
        return f"{show_difference(p)} | - | - | {p['users']}"
    verdict_shown = verdict(p["mean"], boot["se"])
    return (f"{show_difference(p)} | {p['mean']:+.2f} ± {boot['se']:.2f} [{boot['low']:+.2f}, {boot['high']:+.2f}] | "
            f"{verdict_shown} | {p['users']}")


def mean_se(values):
    values = np.array(values, dtype=float)
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{values.mean():.1f} ± {se:.1f}" if len(values) > 1 else f"{values.mean():.1f}"


def summed_baseline_parts(train, test, users):
    """The parts the summed baselines are made of, fitted on `train` for the test `users`: a dict of
    w_global, top (the regression's shrink best on the test users), regressions ({shrink: memoized
    scorer}, baselines.regression_scorers), prior_count, counts, rate (scorer), regression_and_rate
    ({shrink: memoized scorer}, baselines.regression_and_rate_scorers) and co_likes and user_knn
    (baselines.co_like_part and user_knn_part, or None), co_likes_low_rank (co_like_part at the served
    model's rank, baselines.CO_LIKE_RANK) and latent_classes (latent_classes.latent_class_part).
    Built once, they are shared by baseline_results and benches that mix them again
    (trainer/bench_stack_ceiling.py), so each user's regression is fitted once per shrink."""
    w_global = baselines.global_weights(train)
    regressions = baselines.regression_scorers(test.vectors, w_global)
    # The shrink chosen on training users can mislead (baselines.upper_bound_shrink): the
    # regression at its best shrink on the test users is an upper bound for it, and the model is
    # compared with it too, so a lead holds against the strongest baseline. (The regression alone
    # is a sum of no parts.)
    (top,), _ = baselines.upper_bound_sum(users, regressions)
    prior_count, _ = baselines.tune_rate_prior(train)
    counts = baselines.item_like_counts(train)
    rate = baselines.item_rate_scorer(counts, test.item_ids, prior_count)
    return {"w_global": w_global, "top": top, "regressions": regressions, "prior_count": prior_count, "counts": counts,
            "rate": rate, "regression_and_rate": baselines.regression_and_rate_scorers(regressions, rate),
            "co_likes": baselines.co_like_part(train, test), "user_knn": baselines.user_knn_part(train, test),
            "co_likes_low_rank": baselines.co_like_part(train, test, baselines.CO_LIKE_RANK),
            "latent_classes": latent_class_part(train, test)}


def baseline_results(train, test, users, parts=None):
    """{name: evaluate_per_user rows} of every baseline, fitted on `train`, deterministic, on the
    same test users and pairs as the models. `parts`: summed_baseline_parts of the same data,
    when the caller has them."""
    parts = parts or summed_baseline_parts(train, test, users)
    w_global, top, regressions, prior_count, counts, rate, regression_and_rate, low_rank = (
        parts[k] for k in ("w_global", "top", "regressions", "prior_count", "counts", "rate", "regression_and_rate", "co_likes_low_rank"))
    shrink, _ = baselines.tune_shrink(train, w_global)
    (summed_shrink,), summed = baselines.upper_bound_sum(users, regression_and_rate)
    return {
        "global preference (logistic regression, no history)": evaluate_per_user(baselines.global_scorer(test.vectors, w_global), users),
        **{name: evaluate_per_user(scorer, users) for name, scorer in baselines.choice_scorers(train, test.vectors).items()},
        "history centroid": evaluate_per_user(baselines.centroid_scorer(test.vectors), users),
        f"per-user logistic regression (shrink {shrink})": evaluate_per_user(regressions[shrink], users),
        f"per-user logistic regression (shrink {top}, chosen on the test users: an upper bound)":
            evaluate_per_user(regressions[top], users),
        f"item like rate (by item id, no vectors; {prior_count:g} pseudo-counts{baselines.unrated_caveat(counts, test)})":
            evaluate_per_user(rate, users),
        f"per-user logistic regression (shrink {summed_shrink}, chosen on the test users: an upper bound) + item like rate "
        "(log-odds summed)": evaluate_per_user(summed, users),
        **rows_with_co_likes(train, test, users, parts, parts["co_likes"]),
        # The co-likes as a served model keeps them (at baselines.CO_LIKE_RANK) in every row that sums
        # them: the best baseline is the best of both, so a lead the served co-likes bring is measured
        # against baselines that have them too.
        **({} if low_rank is None else
           {name.replace("co-likes", f"co-likes at rank {baselines.CO_LIKE_RANK}"): rows
            for name, rows in rows_with_co_likes(train, test, users, parts, low_rank).items() if "co-likes" in name}),
    }


def rows_with_co_likes(train, test, users, parts, co_likes):
    """{name: evaluate_per_user rows} of the baselines that may sum the co-likes `co_likes` (a
    baselines.co_like_part, or None), from summed_baseline_parts `parts`."""
    regression_and_rate, user_knn, latent_classes = (parts[k] for k in ("regression_and_rate", "user_knn", "latent_classes"))
    cross_fitted, chosen = baselines.cross_fitted_sum_rows(users, regression_and_rate, baselines.summed_parts_grid(co_likes, user_knn))
    present = "".join(f" + {name}" for name, part in (("co-likes", co_likes), ("user-kNN", user_knn)) if part is not None)
    return {
        **{name: evaluate_per_user(scorer, users)
           for name, scorer in baselines.co_like_scorers(train, test, users, regression_and_rate, co_likes).items()},
        **{name: evaluate_per_user(scorer, users)
           for name, scorer in baselines.user_knn_scorers(train, test, users, regression_and_rate, co_likes, user_knn).items()},
        **{name: evaluate_per_user(scorer, users)
           for name, scorer in latent_class_scorers(users, regression_and_rate, co_likes, latent_classes).items()},
        f"per-user logistic regression + item like rate{present}, the shrink and weights (shrink, co-likes, user-kNN) "
        f"{CROSS_FITTED}: {chosen[0]} and {chosen[1]}": cross_fitted,
    }


def best_baselines(baseline_rows):
    """{metric: the baseline best at it}: a top-1 lead is measured against the best top-1
    baseline, which need not be the best pairwise one."""
    return {metric: max(baseline_rows, key=lambda n: summarize(baseline_rows[n])[key]) for metric, key in (("pairwise", "pairwise"), ("top-1", "top1"))}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated (at least 3 for an interval over seeds)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-ref", type=int, default=8, help="EVAL-1(n): the history size per kind")
    parser.add_argument("--work", help="where the models go (default: a temporary folder)")
    parser.add_argument("--train-args", default="", help="more flags for trainer.train, as one string")
    parser.add_argument("--floor", action="store_true", help="also the full model with --global-floor, compared with the full model and the best baseline")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="also the full model with these trainer flags (repeatable), e.g. 'temporal episodes=--temporal-share 0.5'; "
                             "compared with the full model and the best baseline; a variant whose flags include --ensemble is "
                             "what the trainer ships with them (no regression added again), also compared with the shipped design")
    parser.add_argument("--ensemble", action="store_true",
                        help="also each seed's full model averaged with the per-user regression as `trainer.train --ensemble` does "
                             "(auto, and the even weight), from the same checkpoints: no more training")
    parser.add_argument("--item-rates", action="store_true",
                        help="also each fitted ensemble with the items' like rates added as `trainer.train --item-rates auto` "
                             "adds them (trainer/item_rates.py), from the same checkpoints")
    parser.add_argument("--co-likes", action="store_true",
                        help="also each fitted ensemble (with its rates, under --item-rates) with the co-likes added as "
                             "`trainer.train --co-likes auto` adds them (trainer/co_likes.py), from the same checkpoints")
    parser.add_argument("--latent-classes", action="store_true",
                        help="also each fitted ensemble (with its rates and co-likes, under --item-rates and --co-likes) with the "
                             "latent classes added as `trainer.train --latent-classes auto` adds them "
                             "(trainer/served_latent_classes.py), from the same checkpoints")
    parser.add_argument("--choice-prior", action="store_true",
                        help="also each fitted ensemble (with its rates, under --item-rates) with the choice prior added as "
                             "`trainer.train --choice-prior auto` adds it (trainer/choice_prior.py), from the same checkpoints")
    parser.add_argument("--no-ablations", action="store_true",
                        help="train only the full model (and any --floor, --variant): no L_base and L_base + L_CP rows")
    args = parser.parse_args()
    if args.item_rates and not args.ensemble:
        parser.error("--item-rates: the rates are added to the ensembles, so it needs --ensemble")
    if args.co_likes and not args.ensemble:
        parser.error("--co-likes: the co-likes are added to the ensembles, so it needs --ensemble")
    if args.latent_classes and not args.ensemble:
        parser.error("--latent-classes: the classes are added to the ensembles, so it needs --ensemble")
    if args.choice_prior and not args.ensemble:
        parser.error("--choice-prior: the prior is added to the ensembles, so it needs --ensemble")
    extra = extra_variants(args.variant)
    ablations = {} if args.no_ablations else {k: v for k, v in VARIANTS.items() if k != FULL}
    variants = {**ablations, FULL: VARIANTS[FULL], **({FLOOR: FLOOR_FLAGS} if args.floor else {}), **extra}
    seeds = [int(s) for s in args.seeds.split(",")]
    work = args.work or tempfile.mkdtemp(prefix="tastegraph-seeds-")

    train = read_dataset(args.train)
    test = read_dataset(args.test)
    users = eval_users(test, args.n_ref)
    if not users:
        raise SystemExit(f"EVAL-1({args.n_ref}) evaluates no user of {args.test}: try a smaller --n-ref")
    print(f"train {args.train}: {len(train.users)} users; test {args.test}: {len(users)} users under EVAL-1({args.n_ref}); seeds {seeds}", flush=True)

    baseline_rows = baseline_results(train, test, users)

    # Each ensemble: (the variant whose models it averages with the regression, its weight; None = fitted).
    ensembles = {}
    # A variant trained with --ensemble is already what the trainer ships: no regression is added to it again.
    shipped = [name for name, flags in extra.items() if "--ensemble" in flags]
    if args.ensemble:
        ensembles = {ENSEMBLE: (FULL, None), ENSEMBLE_EVEN: (FULL, 0.5),
                     **{ensemble_of(name): (name, None) for name in extra if name not in shipped}}
    rated = [with_rates(label) for label, (_, fixed) in ensembles.items() if fixed is None] if args.item_rates else []
    # Each later stage goes on the last before it of each fitted ensemble, in the trainer's order:
    # rates, co-likes, latent classes, prior.
    fitted = [label for label, (_, fixed) in ensembles.items() if fixed is None]
    rated_or_not = {label: with_rates(label) if args.item_rates else label for label in fitted}
    co_on = rated_or_not if args.co_likes else {}
    co_or_not = {label: with_co_likes(last) if args.co_likes else last for label, last in rated_or_not.items()}
    classes_on = co_or_not if args.latent_classes else {}
    prior_on = ({label: with_latent_classes(last) if args.latent_classes else last for label, last in co_or_not.items()}
                if args.choice_prior else {})
    later = [*(with_co_likes(last) for last in co_on.values()), *(with_latent_classes(last) for last in classes_on.values()),
             *(with_prior(last) for last in prior_on.values())]
    model_rows = {name: [] for name in [*variants, *ensembles, *rated, *later]}
    seconds = {name: [] for name in [*variants, *ensembles, *rated, *later]}
    train_args = args.train_args.split()

    def scored(row, stage, network):
        """The row's figures for the seed at hand: `stage` (a model built on the variant `network`'s
        model) on the test users, and that network's training time."""
        model_rows[row].append(evaluate_per_user(model_scorer(stage, test.vectors), users))
        seconds[row].append(seconds[network][-1])

    kernels = set()   # what each model's training recorded (trainer/kernels.py): other kernels, other weights
    val_share = parse_val_share(train_args[train_args.index("--val-share") + 1]) if "--val-share" in train_args else None
    for seed in seeds:
        for name, flags in variants.items():
            out = os.path.join(work, f"seed{seed}-{slug(name)}")
            command = [sys.executable, "-m", "trainer.train", "--data", args.train, "--out", out, "--epochs", str(args.epochs),
                       "--seed", str(seed), "--quiet", *flags, *args.train_args.split()]
            # A model trained before by the same command (a --work folder kept between runs) is reused.
            done = os.path.join(out, "command.json")
            if not (os.path.exists(done) and json.load(open(done)) == command[1:]):
                subprocess.run(command, check=True)
                with open(done, "w") as f:
                    json.dump(command[1:], f)
            metrics = json.load(open(os.path.join(out, "metrics.json")))
            seconds[name].append(metrics["train_seconds"])
            kernels.add(describe(metrics.get("cpu_kernels")))
            model, _ = load_checkpoint(os.path.join(out, "ckpt.pt"))
            model_rows[name].append(evaluate_per_user(model_scorer(model, test.vectors), users))
            print(f"seed {seed}: {name}: trained in {seconds[name][-1]:.0f} s", flush=True)
            attached = [(label, fixed) for label, (base, fixed) in ensembles.items() if base == name]
            if attached:
                w_regression, shrink, weight, val_users = shipped_ensemble(model, train, seed, val_share)
                train_ids, _, _, split_val_users = validation_split(train, val_share, seed)
                for label, fixed in attached:
                    ensemble = attach_regression(model, w_regression, shrink, weight if fixed is None else fixed)
                    scored(label, ensemble, name)
                    last = ensemble
                    if with_rates(label) in model_rows:
                        last, record = add_item_rates(ensemble, train, train_ids, seed)
                        scored(with_rates(label), last, name)
                        print(f"seed {seed}: {label} + item like rates: weight {record['weight']} on {record['items']} items", flush=True)
                    if label in co_on:
                        last, record = add_co_likes(last, train, train_ids, split_val_users)
                        scored(with_co_likes(co_on[label]), last, name)
                        print(f"seed {seed}: {co_on[label]} + co-likes: weight {record['weight']}, the model's "
                              f"{record.get('scale')}, on {record['items']} items (the co-likes' coefficient "
                              f"{record.get('co_like_coefficient')} ± {record.get('co_like_standard_error')})", flush=True)
                    if label in classes_on:
                        last, record = add_latent_classes(last, train, train_ids, split_val_users, seed)
                        scored(with_latent_classes(classes_on[label]), last, name)
                        print(f"seed {seed}: {classes_on[label]} + latent classes: weight {record['weight']}, the model's "
                              f"{record.get('scale')}, {record['classes']} classes (their coefficient "
                              f"{record.get('class_coefficient')} ± {record.get('class_standard_error')})", flush=True)
                    if label in prior_on:
                        prior_model, record = add_choice_prior(last, train, train_ids, split_val_users, seed)
                        scored(with_prior(prior_on[label]), prior_model, name)
                        print(f"seed {seed}: {prior_on[label]} + choice prior: weight {record['weight']}, the model's "
                              f"{record.get('scale')}, on {record.get('images', 0)} images (the prior's coefficient "
                              f"{record.get('prior_coefficient')} ± {record.get('prior_standard_error')})", flush=True)
                print(f"seed {seed}: {name} + ensemble: regression shrink {shrink}, weight {weight} fitted on {len(val_users)} validation users", flush=True)

    first = summarize(next(iter(baseline_rows.values())))
    print(f"\n### EVAL-1({args.n_ref}) on {args.test}: {first['users']} users, {first['pairs']} pairs; models: mean ± standard error over {len(seeds)} seeds\n")
    print(f"Models trained on CPU kernels: {'; '.join(sorted(kernels))}\n")
    print("| method | pairwise | top-1 | top-2 | top-3 | training s, median |\n|---|---|---|---|---|---|")
    for name, rows in baseline_rows.items():
        s = summarize(rows)
        print(f"| {name} | {s['pairwise']:.1f} | {s['top1']:.1f} | {s['top2']:.1f} | {s['top3']:.1f} | - |")
    for name, runs in model_rows.items():
        s = [summarize(r) for r in runs]
        print(f"| ours: {name} | {mean_se([x['pairwise'] for x in s])} | {mean_se([x['top1'] for x in s])} | "
              f"{mean_se([x['top2'] for x in s])} | {mean_se([x['top3'] for x in s])} | {np.median(seconds[name]):.0f} |")

    # Per-user rates [seeds, users] (a baseline is one row); paired() averages a model's seeds first.
    runs = {name: [per_user_rates(rows)] for name, rows in baseline_rows.items()}
    runs.update({name: [per_user_rates(r) for r in rows] for name, rows in model_rows.items()})
    seed_rates = {name: tuple(np.array([r[i] for r in rs]) for i in (0, 1)) for name, rs in runs.items()}
    rates = {name: tuple(m.mean(0) for m in pair) for name, pair in seed_rates.items()}
    BEST = "best baseline"
    best = best_baselines(baseline_rows)
    print(f"\n### Paired differences, user by user on the same pairs (points; mean ± SE [95% interval]: over users, with each "
          f"user's rate averaged over seeds; then bootstrapped over seeds and users together; the verdict uses the latter)\n")
    print(f"Best baseline: pairwise {best['pairwise']}; top-1 {best['top-1']}.\n")
    print("| comparison | metric | difference, over users | over seeds and users | 2 SE | users |\n|---|---|---|---|---|---|")
    comparisons = [(FULL, BEST, "full model − best baseline")]
    if ablations:
        comparisons += [("L_base + L_CP", "L_base", "what L_CP adds (L_base + L_CP − L_base)"),
                        (FULL, "L_base + L_CP", "what P_v adds (full − L_base + L_CP)")]
    if args.floor:
        comparisons += [(FLOOR, BEST, "full + global floor − best baseline"), (FLOOR, FULL, "what the global floor adds (floor − full)")]
    for name in [*extra, *ensembles]:
        comparisons += [(name, BEST, f"{name} − best baseline"), (name, FULL, f"what it adds ({name} − full)")]
        if name in shipped:
            # What the trainer ships with these flags, against what it ships by default.
            reference = with_rates(ENSEMBLE) if with_rates(ENSEMBLE) in model_rows else ENSEMBLE if ENSEMBLE in model_rows else None
            if reference:
                comparisons += [(name, reference, f"what it adds to the shipped design ({name} − {reference})")]
        if name in ensembles and ensembles[name][0] != FULL:
            comparisons += [(name, ENSEMBLE, f"what it adds to the ensemble ({name} − {ENSEMBLE})")]
    for name in rated:
        comparisons += [(name, BEST, f"{name} − best baseline"),
                        (name, name[: -len(" + item like rates")], "what the item like rates add to its ensemble")]
    for last in co_on.values():
        comparisons += [(with_co_likes(last), BEST, f"{with_co_likes(last)} − best baseline"),
                        (with_co_likes(last), last, "what the co-likes add")]
    for last in classes_on.values():
        comparisons += [(with_latent_classes(last), BEST, f"{with_latent_classes(last)} − best baseline"),
                        (with_latent_classes(last), last, "what the latent classes add")]
    for last in prior_on.values():
        comparisons += [(with_prior(last), BEST, f"{with_prior(last)} − best baseline"),
                        (with_prior(last), last, "what the choice prior adds")]
    # The fullest model against the sum a deployment could reach: the best baseline's choices are
    # made on the users it is scored on, an upper bound.
    cross_fitted = next(name for name in baseline_rows if CROSS_FITTED in name)
    fullest = [a for a, b, _ in comparisons if b == BEST][-1]
    comparisons += [(fullest, cross_fitted, f"{fullest} − the summed baseline {CROSS_FITTED}")]
    for a, b, label in comparisons:
        for metric, index in (("pairwise", 0), ("top-1", 1)):
            other = best[metric] if b == BEST else b
            # Two model rows are trained with the same seeds, in order: their seeds pair.
            boot = bootstrap_paired(seed_rates[a][index], seed_rates[other][index],
                                    same_seeds=a in model_rows and other in model_rows)
            print(f"| {label} | {metric} | {show_paired(paired(rates[a][index], rates[other][index]), boot)} |")
    print(f"\ncommand: npm run bench:seeds -- --train {args.train} --test {args.test} --seeds {args.seeds} --epochs {args.epochs} --n-ref {args.n_ref}"
          + (f" --train-args \"{args.train_args}\"" if args.train_args else "") + (" --floor" if args.floor else "")
          + "".join(f" --variant '{spec}'" for spec in args.variant) + (" --ensemble" if args.ensemble else "") + (" --item-rates" if args.item_rates else "") + (" --co-likes" if args.co_likes else "")
          + (" --latent-classes" if args.latent_classes else "") + (" --choice-prior" if args.choice_prior else "") + (" --no-ablations" if args.no_ablations else ""))


if __name__ == "__main__":
    main()
