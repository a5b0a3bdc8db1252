"""beta, the item like rate's weight, measured on users the model never trained on (issue 14, session 21).

`trainer.train --item-rates crossfit`. The shipped rule (item_rates.rate_weight_beyond_vectors)
measures what the rate says beyond a linear function of the item's vector, on the training
labels. But the served model adds the rate to the network and the per-user regression, and the
test users liked a beta about twice the rule's (about 1.0 against 0.47-0.60 on MovieLens and on
its unseen vectors, session 19). The served model's own log-odds cannot be used on the training
users: the network has learned their labels and leaves the rate nothing (beta 0.03, session 20);
and the few validation users leave beta's likelihood flat (session 18).

Cross-fitting gives every training user a model that never saw them: the training users are
split in FOLDS folds, a network is trained on the others (the same flags, the same validation
users to keep an epoch by) and made into the served model's kind (the regression attached at the
served weight, fitted on those others), and it scores its fold's users under EVAL-1(n), n the
tenant's. Each pair (like, dislike) gives the model's log-odds margin and the rate's margin, the
rate counted without the user's own labels (a test user is not in the counts either). beta is the
rate's coefficient over the model's in a logistic regression of "the like wins" on both margins,
each user one vote: pairwise accuracy depends on that ratio alone, and the model's log-odds are
over-confident on new users (scale 0.87 on MovieLens, session 20), which a coefficient fixed at 1
would fold into beta.

A fold's network trains on (FOLDS - 1) / FOLDS of the users, so it is a little weaker than the
one served, and a weaker model leaves the rate more to say: beta leans high by that much.
`--crossfit-networks 1` trains the first fold's network only, which scores that fold's users:
half the extra training, beta from half the users (session 31). `--crossfit-epochs` shortens the
fold networks' schedule, but a network cut short is that much weaker: on the 64,000-user world 6
epochs of 20 gave beta 0.30 and 0.67 where full fold networks gave 0.00-0.11 (session 31).

Served since session 31 only where the held-out pairs reject rule 4's beta by REJECT_Z standard
errors (weight_beside_rule): on a 64,000-user world they do (beta 0.00-0.05 against 0.36-0.41),
on MovieLens and unseen vectors, with under 200 held-out users, they do not.

Measured in session 21, before that gate, and not adopted then (docs/preference-model.md): the
held-out users did not ask for the test users' beta of about 1.0 (unseen vectors 0.53-0.95
against rule 4's 0.57-0.60; MovieLens 0.28-0.40, whose held-out users shaped its item vectors),
and the served figures moved within noise (-0.15 ± 0.48 and -0.34 ± 0.56 pairwise) at about
twice the training.
"""
import numpy as np

from . import baselines
from .ensemble import log_odds_scorer
from .evaluate import eval_request, score_all
from .item_rates import served_rate

# Folds of the training users: each fold's network costs (FOLDS - 1) / FOLDS of a network's
# training, so 2 folds cost about one more network and train on half the users.
FOLDS = 2
# A small L2 pull on the two coefficients keeps them finite when every pair is won.
L2 = 1e-4
# The held-out beta replaces the rule's only where the held-out pairs reject the rule's beta by
# this many standard errors (rule_departure): a fold of a few hundred users moves beta from
# seed to seed by more than the rule is off (0.53-0.95 on unseen vectors, session 21).
REJECT_Z = 2.0
# A fine-tune carries its checkpoint's cross-fit (trainer.train --crossfit-carry) while its
# training users, and their rows, are each fewer than CARRY_GROWTH times those that cross-fit
# trained on and more than 1 / CARRY_GROWTH of them. Beyond, what the network knows of the items,
# and what their counted rates say, have moved too far to trust the verdict: the 64,000-user world
# rejects the rule (its network knows what the rate says, worth +0.20 pairwise, session 31) where a
# tenant of a few hundred users does not, and MovieLens's users with half their ratings rejected it
# on 2 seeds of 3 where with all of them 1 did (session 41). At a few percent a night a tenant
# cross-fits again every couple of weeks.
CARRY_GROWTH = 1.5


def folds_of(train_ids, seed: int, folds: int = FOLDS):
    """The training users in `folds` seeded folds of (nearly) equal size, each sorted."""
    order = np.random.default_rng(seed + 7919).permutation(len(train_ids))
    return [sorted(train_ids[i] for i in order[k::folds]) for k in range(folds)]


def carried_verdict(record, train_users: int, train_rows: int):
    """(held-out beta or None, the cross-fit record, why) from the item-rates record of a checkpoint
    a fine-tune starts from (its metrics.json's `item_rates`), without training a fold network:
    the held-out beta where that cross-fit rejected the rule's (serve it again), None where it did
    not (serve the rule's beta counted on this run's users). The record is returned as carried,
    keeping the cross-fit's own `train_users` and `train_rows`, so a chain of fine-tunes measures
    its growth from the last cross-fit. (None, None, why) where there is nothing to carry: no
    cross-fit in the record (none run, trainers before session 41, or no user to cross-fit on), or
    this run's `train_users` or `train_rows` (the training users' interactions) outside
    CARRY_GROWTH of the cross-fit's."""
    crossfit = (record or {}).get("crossfit")
    if not crossfit or "train_users" not in crossfit or "train_rows" not in crossfit:
        return None, None, "the --init checkpoint records no cross-fit with its training users and rows"
    then = crossfit["train_users"]
    for what, now, at in (("training users", train_users, then), ("training rows", train_rows, crossfit["train_rows"])):
        if not at / CARRY_GROWTH < now < at * CARRY_GROWTH:
            return None, None, (f"{now} {what} now, {at} at the --init checkpoint's cross-fit: beyond {CARRY_GROWTH:g}x, "
                                "so the network and the rates may say something else of the items")
    carried = {**crossfit, "carried": True}
    if rejects_rule(crossfit["rule_departure"]):
        return crossfit["weight"], carried, (f"its held-out beta {crossfit['weight']}, which rejected the rule's by "
                                             f"{crossfit['rule_departure']:+.2f} SE on {then} training users")
    return None, carried, (f"the rule's beta, which its held-out users did not reject ({crossfit['rule_departure']:+.2f} SE "
                           f"on {then} training users)")


def leave_user_out_rates(dataset, user, items, counts, prior_count, remembered):
    """The served rate (centred log-odds, item_rates.remembered_items) of each of `items` (rows),
    counted without `user`'s own labels: 0 for an item not remembered or, without them, rated
    fewer than MIN_RATINGS times."""
    share = baselines.overall_like_share(counts)
    own = {}
    for r in dataset.users[user]:
        likes, dislikes = own.get(r.item, (0, 0))
        own[r.item] = (likes + r.label, dislikes + 1 - r.label)
    out = np.zeros(len(items))
    for k, item in enumerate(items):
        if item not in remembered:
            continue
        likes, dislikes = counts[dataset.item_ids[item]]
        mine = own.get(item, (0, 0))
        out[k] = served_rate(likes - mine[0], dislikes - mine[1], prior_count, share)
    return out


def held_out_margins(model, dataset, users, counts, prior_count, remembered):
    """[(model margin, rate margin, user id)] over the EVAL-1 pairs of `users` (data.EvalUser,
    users `model` never trained on): margins are like minus dislike."""
    users = [u for u in users if u.pairs]
    requests = [eval_request(u, pairs_only=True) for u in users]
    out = []
    for u, (_, _, items), scores in zip(users, requests, score_all(log_odds_scorer(model, dataset.vectors), requests)):
        model_log_odds = dict(zip(items.tolist(), scores))
        rates = dict(zip(items.tolist(), leave_user_out_rates(dataset, u.user, items.tolist(), counts, prior_count, remembered)))
        out += [(model_log_odds[like] - model_log_odds[dislike], rates[like] - rates[dislike], u.user) for like, dislike in u.pairs]
    return out


def weight_from_held_out(margins, max_weight: float):
    """(beta, the model's coefficient, the rate's) from held_out_margins' rows: beta = b / a of
    margin_fit within [0, max_weight] (0 when a <= 0 or no pair has a rate margin)."""
    return held_out_weight(margin_fit(margins), max_weight)


def held_out_weight(fitted, max_weight: float):
    """weight_from_held_out of a margin_fit result (None: nothing fitted)."""
    if fitted is None:
        return 0.0, None, None
    (a, b), _ = fitted
    beta = 0.0 if a <= 0 else min(max(b / a, 0.0), max_weight)
    return round(beta, 2), round(a, 3), round(b, 3)


def weight_beside_rule(margins, rule_beta: float, max_weight: float):
    """(the beta to serve, the held-out beta, the model's coefficient, the rate's, rule_departure):
    the held-out beta (weight_from_held_out) where the pairs reject `rule_beta`
    (rejects_rule), else `rule_beta`. The margins are fitted once for both."""
    fitted = margin_fit(margins)
    beta, a, b = held_out_weight(fitted, max_weight)
    departure = departure_of(fitted, rule_beta)
    return (beta if rejects_rule(departure) else rule_beta), beta, a, b, departure


def rejects_rule(departure: float) -> bool:
    """Whether a rule_departure of this many standard errors rejects the rule's beta."""
    return abs(departure) >= REJECT_Z


def rule_departure(margins, rule_beta: float):
    """How many standard errors the held-out pairs put the rate's coefficient away from
    `rule_beta` x the model's: z = (b - rule_beta a) / SE, from margin_fit's covariance (0.0
    when there is nothing to fit). Beyond 2 either way, the held-out users reject the rule's beta."""
    return departure_of(margin_fit(margins), rule_beta)


def departure_of(fitted, rule_beta: float):
    """rule_departure of a margin_fit result (None: nothing fitted)."""
    if fitted is None:
        return 0.0
    (a, b), covariance = fitted
    contrast = np.array([-rule_beta, 1.0])
    error = float(np.sqrt(contrast @ covariance @ contrast))
    return round((b - rule_beta * a) / error, 2) if error > 0 else 0.0


def margin_coefficients(margins):
    """((a, b), their standard errors) of margin_fit; None where it has nothing to fit."""
    fitted = margin_fit(margins)
    if fitted is None:
        return None
    (a, b), covariance = fitted
    errors = np.sqrt(np.diag(covariance))
    return (a, b), (float(errors[0]), float(errors[1]))


def margin_fit(margins):
    """((a, b), their 2 x 2 covariance) for P(the like wins) = sigmoid(a * model margin + b * other
    margin) over rows (model margin, other margin, user id), each user's rows one vote between
    them, by Newton's method; None when there is no row or no row has an other margin."""
    if not margins:
        return None
    x = np.array([(m, r) for m, r, _ in margins], np.float64)
    owners = np.unique(np.array([u for _, _, u in margins]), return_inverse=True)[1]
    if not x[:, 1].any():
        return None
    votes = 1.0 / np.bincount(owners)[owners]
    w = np.zeros(2)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(np.clip(x @ w, -50, 50)))               # sigmoid(-margin): the loss's slope
        gradient = x.T @ (votes * p) - L2 * w
        curvature = -(x * (votes * p * (1 - p))[:, None]).T @ x - L2 * np.eye(2)
        step = np.linalg.solve(curvature, gradient)
        w = w - step
        if np.abs(step).max() < 1e-9:
            break
    # The covariance clustered by user (the sandwich estimator): a user's rows share a history
    # and a taste, so they are not independent; each user's summed slope is one draw.
    p = 1.0 / (1.0 + np.exp(np.clip(x @ w, -50, 50)))
    bread = np.linalg.inv((x * (votes * p * (1 - p))[:, None]).T @ x + L2 * np.eye(2))
    per_user = np.zeros((owners.max() + 1, 2))
    np.add.at(per_user, owners, x * (votes * p)[:, None])
    return (float(w[0]), float(w[1])), bread @ (per_user.T @ per_user) @ bread
