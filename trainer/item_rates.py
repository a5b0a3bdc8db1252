"""What the crowd says of each item: the model's log-odds plus the item's like rate (issue 14, session 18).

Where many users rate the same items (a catalogue, as in MovieLens), how often the tenant's
users liked an item says much that its vector does not: on MovieLens the item like rate alone
(baselines.item_rate_scorer) ties the per-user regression on pairwise accuracy and beats every
other baseline on top-1, and the network and the regression, which read vectors only, cannot
learn it (the vectors' collaborative factors are centred per item, so an item's popularity is
taken out of them).

After training (and after the regression ensemble, trainer/ensemble.py), the model remembers the
items at least MIN_RATINGS training users rated, at most MAX_ITEMS of the most rated, with each
one's like rate as log-odds shrunk towards the overall share and centred on it, and its log-odds
become model + beta * rate(z). A candidate is known when its vector is, within float32
round-off, one the model remembers; any other candidate, such as a new image, adds nothing. beta
is how much the rate says beyond the vector: its coefficient beside the vector in a logistic
regression of the training users' labels, each user with a bias of their own and each label's
rate counted without it (rate_weight_beyond_vectors). The ONNX contract is unchanged; the user
embedding is the model's.
"""
import math

import numpy as np
import torch
import torch.nn as nn

from . import baselines
from .data import subset
from .log_odds_part import LogOddsPart
from .model import ModelConfig

# The items remembered, at most: scoring a candidate compares it with each of them. Measured on
# MovieLens's model (bench:history-cost, 8 + 8 history, one thread): 1,615 items cost 1.19x the
# model without them for 50 candidates and 1.99x for 500; 4,096 items 1.43x and 3.42x. The most
# rated items are kept: a rarely rated item's rate is shrunk close to 0 anyway.
MAX_ITEMS = 2048
# An item is remembered when at least this many training users rated it: one rating is no crowd
# (where every image is rated by the user who made it, nothing is remembered and nothing added).
MIN_RATINGS = 2
# The nearest remembered item is looked for among the vectors' projections on this many fixed
# directions (cheaper than the full vectors when D is large), then the full vectors are compared,
# so a projection that happens to bring two items close can only miss a rate, never give a wrong one.
KEY_DIMENSIONS = 8
# A candidate is a remembered item when its squared distance to it is within this share of its
# squared norm: float32 round-off of the same vector is about 1e-6 of it, two distinct items
# of any real data far more than 1e-4.
MATCH_TOLERANCE = 1e-4
# beta at most: an item's rate counted twice over.
MAX_WEIGHT = 2.0


def key_directions(dim: int) -> torch.Tensor:
    """[D, k]: the KEY_DIMENSIONS fixed directions (from seed 0) on which a vector's nearest
    remembered item is looked for."""
    directions = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(0)))[0]
    return directions[:, :min(KEY_DIMENSIONS, dim)].contiguous()


def match_remembered(vectors, memory_vectors, directions):
    """(nearest [...], known [...]) for vectors [..., D]: the index of the remembered item
    (`memory_vectors` [K, D]) nearest each among the projections on `directions`, and whether it
    is that item (its vector within float32 round-off). Inside the ONNX graph."""
    keys = memory_vectors @ directions                                               # [K, k]
    # The nearest key: argmax of c.m - |m|^2 / 2 is argmin of |c - m|^2 (|c|^2 is the same for
    # all), one product of [c, 1] with [m, -|m|^2 / 2] (the memory's side is a constant).
    keys = torch.cat([keys, -0.5 * (keys * keys).sum(-1, keepdim=True)], -1)         # [K, k + 1]
    projected = vectors @ directions
    projected = torch.cat([projected, torch.ones_like(projected[..., :1])], -1)      # [..., k + 1]
    nearest = (projected @ keys.T).argmax(-1)
    gap = vectors - memory_vectors[nearest]
    return nearest, (gap * gap).sum(-1) <= MATCH_TOLERANCE * (vectors * vectors).sum(-1)


class WithItemRates(LogOddsPart):
    """A model (one network, an average, with or without the regression) plus beta times the
    like rate of the candidate, when the candidate is an item it remembers."""
    SIZE, WEIGHT, NEEDS = "item_memory", "item_rate_weight", "the rates need at least 1 remembered item"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.register_buffer("memory_vectors", torch.zeros(config.item_memory, config.embedding_dim))
        self.register_buffer("memory_log_odds", torch.zeros(config.item_memory))
        self.register_buffer("key_directions", key_directions(config.embedding_dim))

    def part_log_odds(self, history, history_label, history_mask, candidates):
        return self.item_log_odds(candidates)

    def item_log_odds(self, candidates):
        """[B, T]: each candidate's remembered like rate (centred log-odds), or 0 when unknown."""
        nearest, known = match_remembered(candidates, self.memory_vectors, self.key_directions)
        return torch.where(known, self.memory_log_odds[nearest], torch.zeros_like(candidates[..., 0]))


without_item_rates = WithItemRates.stripped


def remembered_items(dataset, counts, prior_count, max_items=MAX_ITEMS):
    """(item rows, centred log-odds) of the at most `max_items` items rated most in `counts`
    (baselines.item_like_counts of the users who count; ties by row), each rated at least
    MIN_RATINGS times."""
    rows = sorted((i for i, item in enumerate(dataset.item_ids) if sum(counts.get(item, (0, 0))) >= MIN_RATINGS),
                  key=lambda i: (-sum(counts[dataset.item_ids[i]]), i))[:max_items]
    share = baselines.overall_like_share(counts)
    log_odds = baselines.item_rate_log_odds(counts, [dataset.item_ids[i] for i in rows], prior_count) - math.log(share / (1 - share))
    return np.array(rows, dtype=np.int64), log_odds


def attach_item_rates(model: nn.Module, vectors: np.ndarray, rows, log_odds, weight: float) -> nn.Module:
    """A copy of `model` (without any rates it had) that adds `weight` times the rate of each
    remembered item (`rows` of `vectors`, their centred `log_odds`). No rows: the model itself."""
    if len(rows) == 0:
        return without_item_rates(model)
    out = WithItemRates.around(model, len(rows), weight)
    with torch.no_grad():
        out.memory_vectors.copy_(torch.from_numpy(np.asarray(vectors[rows], np.float32)))
        out.memory_log_odds.copy_(torch.from_numpy(np.asarray(log_odds, np.float32)))
    return out.eval()


def served_rate(likes, dislikes, prior_count, share):
    """The rate an item with these likes and dislikes would be served with (arrays or numbers): as
    remembered_items counts it, shrunk towards the overall `share` and centred on it; 0 from fewer
    than MIN_RATINGS labels, which is not served (remembered_items). For a label's own item, the
    counts without that label (or its user's), so the rate does not hold the answer."""
    rate = np.log((likes + prior_count * share) / (dislikes + prior_count * (1 - share))) - math.log(share / (1 - share))
    return np.where(np.asarray(likes + dislikes) >= MIN_RATINGS, rate, 0.0)


def rate_weight_beyond_vectors(dataset, user_ids, counts, prior_count, seed=0, max_rows=baselines.GLOBAL_FIT_ROWS,
                               user_intercepts=True) -> float:
    """beta: how much an item's like rate says beyond its vector. The coefficient of the rate in a
    logistic regression of these users' labels on the item's vector and its rate, each label's
    rate counted without that label (with it, the rate would hold the answer), at most `max_rows`
    labels (a seeded sample), kept within [0, MAX_WEIGHT]. It is measured on every training label,
    not on the few validation users: their likelihood of beta was almost flat (twice the
    log-likelihood ratio against 0 was 0.01-1.57 on MovieLens), and its mean lay mid-range where
    the rates say nothing new (docs/preference-model.md, session 18). `counts`: those users'
    baselines.item_like_counts.

    With `user_intercepts` each user also has a bias of their own (fit_with_user_intercepts), as
    the served model has (its per-user regression has a bias): left out, how much users differ
    in liking at all would be noise to the regression, which shrinks every coefficient towards 0,
    beta with them (session 19)."""
    share = baselines.overall_like_share(counts)
    items, labels, owners = [], [], []
    for k, user in enumerate(user_ids):
        items += [r.item for r in dataset.users[user]]
        labels += [r.label for r in dataset.users[user]]
        owners += [k] * len(dataset.users[user])
    items, labels, owners = np.array(items, np.int64), np.array(labels, np.int64), np.array(owners, np.int64)
    if len(items) > max_rows:
        keep = np.random.default_rng(seed).choice(len(items), max_rows, replace=False)
        items, labels, owners = items[keep], labels[keep], owners[keep]
    likes = np.array([counts[dataset.item_ids[i]][0] for i in items]) - labels
    dislikes = np.array([counts[dataset.item_ids[i]][1] for i in items]) - (1 - labels)
    rate = served_rate(likes, dislikes, prior_count, share)
    if not rate.any():
        return 0.0
    x = np.hstack([dataset.vectors[items], rate[:, None]])
    w = fit_with_user_intercepts(x, labels, owners) if user_intercepts else baselines.fit_logistic(x, labels, 1.0)
    return round(float(min(max(w[-2], 0.0), MAX_WEIGHT)), 2)


# Alternations between the shared weights and the users' biases: beta is steady from the third (on
# MovieLens 0.38, 0.52, 0.53, then 0.53 up to 16; on MovieLens with unseen vectors 0.40, 0.48, 0.49).
INTERCEPT_ROUNDS = 4
# The L2 pull of each user's bias towards 0. A label weighs p(1 - p) <= 0.25 in the curvature, so
# a user with 16 labels keeps about half of what they alone would say, one with 80 about 83%.
INTERCEPT_PULL = 4.0
# Newton steps for the biases per alternation (each user's is one-dimensional and smooth).
BIAS_STEPS = 5


def fit_with_user_intercepts(x, labels, owners, rounds=INTERCEPT_ROUNDS, pull=INTERCEPT_PULL):
    """Shared weights (bias last, as baselines.fit_logistic) of a logistic regression in which row
    i also has its owner's bias a[owners[i]] (L2 `pull` towards 0). One Newton system over all
    users' biases would be the size of the user count, so the two are fitted in turn: the
    weights with the biases as offsets, then each user's bias alone (a one-dimensional Newton
    step per user, all users at once)."""
    labels = np.asarray(labels, np.float64)
    bias = np.zeros(int(owners.max()) + 1)
    w = None
    for _ in range(rounds):
        w = baselines.fit_logistic(x, labels, 1.0, offset=bias[owners])
        shared = x @ w[:-1] + w[-1]
        for _ in range(BIAS_STEPS):
            p = 1.0 / (1.0 + np.exp(-(shared + bias[owners])))
            gradient = np.bincount(owners, p - labels, len(bias)) + pull * bias
            curvature = np.bincount(owners, p * (1 - p), len(bias)) + pull
            bias -= gradient / curvature
    return w


def add_item_rates(model: nn.Module, dataset, train_ids, seed: int, weight_rule=None):
    """What `trainer.train --item-rates auto` does after training: (the model with the rates, or
    the model itself when beta comes out 0 or no item was rated twice; a record for metrics.json).
    The pseudo-count, the rates and beta come from the training users' labels only.
    `weight_rule(counts, prior_count, remembered rows, this rule's beta)`, when given, gives (beta,
    what to record of it) instead (--item-rates crossfit: trainer/rate_crossfit.py); the record keeps this
    rule's beta beside it, as `weight_beyond_vectors`."""
    train_set = subset(dataset, train_ids)
    prior_count, _ = baselines.tune_rate_prior(train_set, seed=seed)
    counts = baselines.item_like_counts(train_set)
    rows, log_odds = remembered_items(dataset, counts, prior_count)
    weight = rate_weight_beyond_vectors(dataset, train_ids, counts, prior_count, seed) if len(rows) else 0.0
    record = {"weight": weight, "items": int(len(rows)), "prior_count": prior_count,
              "selected_by": "the rate's weight beside the vector and each user's bias in a regression of the training labels"}
    if weight_rule is not None and len(rows):
        beyond_vectors = weight
        weight, extra = weight_rule(counts, prior_count, rows, beyond_vectors)
        record = {**record, "weight": weight, "weight_beyond_vectors": beyond_vectors, **extra}
    if weight == 0.0:
        return model, {**record, "items": 0}
    return attach_item_rates(model, dataset.vectors, rows, log_odds, weight), record
