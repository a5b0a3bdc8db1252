"""The floor for tenants whose data are choices: the global pairwise preference, judged against
look-alikes, added to the model's log-odds (issue 14, item 2; session 23).

Where a tenant's users choose between two images of one prompt, the best score without history
is the global pairwise preference: a Bradley-Terry fit on the training choices
(baselines.bradley_terry_weights), less its mean over the image's nearest images by cosine
(baselines.lookalike_centred_scorer). A choice says only which of two look-alikes won, so the
score is made relative to the image's look-alikes before images of different prompts are
compared. The network and the per-user regression read each side of a choice as a single label,
which misreads it: on the generated pairwise worlds the shipped design was below that baseline
(session 22), so issue 14's floor failed for these tenants.

After training (and after the regression and the item rates), the model remembers the global
preference's weights w and up to MAX_ITEMS of the tenant's images, each with its look-alikes'
mean score (the mean of w . m over the LOOKALIKES remembered images m nearest it by cosine, the
vectors' part along w taken out: lookalike_space), and its log-odds become
a * model + b * (w . z - the look-alikes' mean of the remembered image nearest z). A candidate's
figure depends on it and the remembered images only, never on the other candidates, so the ONNX
contract holds; a new image takes the look-alikes of the remembered image nearest it.

a and b are the coefficients of a logistic regression of the validation users' comparisons
(EVAL-1's pairs and top-k groups; users the networks never trained on) on the model's margin and
the prior's, each user one vote (rate_crossfit.margin_coefficients): how much each says of users
the model has not seen; the prior is served only where b is at least MIN_STANDARD_ERRORS standard
errors above 0. Both are served, not only their ratio: on the 2,000-user catalogue
pairwise world the model's coefficient was 0.04-0.07 against the prior's 0.8-1.0, and the ratio
alone (model + 11-16 * prior) pushed log-odds past where Q = sigmoid(log-odds) rounds to 1 in
float32, so the best candidates tied (pairwise 71.0 at ratio 16 against 72.1 at 4-8). Scaled, Q
is the comparisons' own calibration. With a <= 0 the history is not trusted and the prior alone
ranks.
"""
import numpy as np
import torch
import torch.nn as nn

from . import baselines
from .data import subset
from .ensemble import log_odds_scorer
from .evaluate import eval_request, score_all
from .log_odds_part import LogOddsPart
from .model import ModelConfig
from .rate_crossfit import margin_coefficients

# Images remembered, at most: each candidate is compared with every one of them. Where the
# tenant has more, a seeded sample is kept; look-alikes are then found among the sample.
MAX_ITEMS = 2048
# How many look-alikes an image is judged against, as baselines.LOOKALIKES (the image itself
# among them when it is remembered). Measured on the pairwise worlds' validation and test users
# (the preference alone, 2,048 or 1,000 images remembered): 25 to 100 within 1 point of each
# other pairwise, top-1 best at 50-100; 10 and 200-400 worse (top-1 down to 37-42 at 400).
LOOKALIKES = baselines.LOOKALIKES
# A candidate's look-alikes are those of the remembered image nearest it, looked for among the
# vectors' projections on this many fixed directions (all of them when D is no larger). The
# look-alikes' means are computed at training, so serving finds one nearest image, not 50: with
# the 50 found by TopK at serving, 500 candidates cost 9.0x the model without the prior at D 32
# and 9.4x at D 512 (bench:history-cost, 2,048 images, 8 + 8 history).
KEY_DIMENSIONS = 32
# b and a without validation users: the model as it is, and the preference at its own scale,
# the log-odds of winning a choice.
DEFAULT_WEIGHT = 1.0
# The prior is served only when its coefficient is at least this many standard errors above 0 on
# the validation users: where it says nothing new it would cost its serving time for nothing (the
# default world: b -0.19 to 0.10 ± 0.15 over three seeds; served without this rule, an earlier
# version added +0.06 / +0.02 there).
MIN_STANDARD_ERRORS = 2.0


class WithChoicePrior(LogOddsPart):
    """A model (anything build_model builds), its log-odds times choice_scale, plus choice_weight
    times the global pairwise preference of the candidate less its mean over the candidate's
    remembered look-alikes."""
    SIZE, WEIGHT, SCALE, NEEDS = "choice_memory", "choice_weight", "choice_scale", "the prior needs at least 1 remembered image"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.register_buffer("preference", torch.zeros(config.embedding_dim))
        # Filled by attach_choice_prior: directions orthogonal to the preference (lookalike_space).
        self.register_buffer("key_directions", torch.zeros(config.embedding_dim, min(config.embedding_dim, KEY_DIMENSIONS)))
        # Each remembered image's key (its projection, unit length) and its look-alikes' mean score.
        self.register_buffer("memory_keys", torch.zeros(config.choice_memory, self.key_directions.shape[1]))
        self.register_buffer("memory_means", torch.zeros(config.choice_memory))

    def part_log_odds(self, history, history_label, history_mask, candidates):
        return self.centred_preference(candidates)

    def centred_preference(self, candidates):
        """[B, T]: each candidate's global pairwise preference less the mean over the look-alikes
        of the remembered image nearest it (by cosine in lookalike_space: a candidate's length
        does not change which key is nearest, so it is not divided out)."""
        nearest = (candidates @ self.key_directions @ self.memory_keys.T).argmax(-1)      # [B, T]
        return candidates @ self.preference - self.memory_means[nearest]


without_choice_prior = WithChoicePrior.stripped


def lookalike_space(w: np.ndarray) -> np.ndarray:
    """[D, k]: where look-alikes are found: the vectors less their part along the preference `w`
    (weights only), projected on KEY_DIMENSIONS orthonormal directions drawn once from a fixed
    seed (all directions when D is no larger).

    Less the preference, an image's look-alikes are the images of its kind of every quality, not
    those about as good as it, whose mean would take part of its own quality away. Measured on
    the two pairwise worlds (seed 0, the preference alone; validation then test users, pairwise
    / top-1): images judged once 72.27 / 52.34 and 71.32 / 49.25 with its own 50 nearest found
    by TopK in the full vectors, 71.88 / 50.62 and 70.73 / 47.38 with its nearest image's 50 so,
    73.18 / 52.34 and 71.91 / 47.88 with its nearest image's 50 less the preference; the
    catalogue world, all of whose images are remembered, within 0.2 of each other."""
    dim = len(w)
    unit = w / max(np.linalg.norm(w), 1e-12)
    directions = (np.eye(dim) if dim <= KEY_DIMENSIONS else torch.linalg.qr(
        torch.randn(dim, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64))[0][:, :KEY_DIMENSIONS].numpy())
    return directions - np.outer(unit, unit @ directions)


def lookalike_means(keys: np.ndarray, scores: np.ndarray, k: int = LOOKALIKES) -> np.ndarray:
    """Each remembered image's look-alikes' mean score: over the k remembered images whose `keys`
    are nearest its by cosine, itself included."""
    unit = keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    k = min(k, len(keys))
    out = np.empty(len(keys))
    for start in range(0, len(keys), 1024):   # 1,024 rows of similarities at a time
        block = unit[start:start + 1024] @ unit.T
        out[start:start + 1024] = scores[np.argpartition(-block, k - 1, axis=1)[:, :k]].mean(1)
    return out


def remembered_images(vectors: np.ndarray, seed: int, max_items: int = MAX_ITEMS) -> np.ndarray:
    """The rows of the tenant's images the prior remembers: all, or a seeded sample of
    `max_items` (sorted)."""
    if len(vectors) <= max_items:
        return np.arange(len(vectors))
    return np.sort(np.random.default_rng(seed + 104729).choice(len(vectors), max_items, replace=False))


def attach_choice_prior(model: nn.Module, vectors: np.ndarray, w, rows, weight: float, scale: float = 1.0) -> nn.Module:
    """A copy of `model` (without any prior it had), its log-odds times `scale`, that adds `weight`
    times the preference `w` (baselines' layout, bias last and unused) less its mean over the
    look-alikes among `rows` of `vectors`."""
    out = WithChoicePrior.around(model, len(rows), weight, scale)
    remembered = np.asarray(vectors[rows], np.float64)
    space = lookalike_space(np.asarray(w[:-1], np.float64))
    keys = remembered @ space
    with torch.no_grad():
        out.preference.copy_(torch.from_numpy(np.asarray(w[:-1], np.float32)))
        out.key_directions.copy_(torch.from_numpy(space.astype(np.float32)))
        out.memory_keys.copy_(torch.from_numpy((keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)).astype(np.float32)))
        out.memory_means.copy_(torch.from_numpy(lookalike_means(keys, remembered @ w[:-1]).astype(np.float32)))
    return out.eval()


def comparison_margins(model, prior_scorer, vectors, users):
    """[(model margin, prior margin, user id)] over every comparison EVAL-1 scores for `users`
    (data.EvalUser): each pair, and each top-k group's like against each of its dislikes."""
    users = [u for u in users if u.pairs or u.groups]
    requests = [eval_request(u) for u in users]   # the items of every comparison
    out = []
    for u, (_, _, items), mine, prior in zip(users, requests, score_all(log_odds_scorer(model, vectors), requests),
                                             score_all(prior_scorer, requests)):
        mine, prior = dict(zip(items.tolist(), mine)), dict(zip(items.tolist(), prior))
        compared = list(u.pairs) + [(like, dislike) for like, dislikes in u.groups for dislike in dislikes]
        out += [(mine[a] - mine[b], prior[a] - prior[b], u.user) for a, b in compared]
    return out


def weigh_on_validation(model, part_scorer, vectors, val_users, part: str):
    """The rule that decides whether a part added after training is served (this prior, the
    co-likes, the latent classes), and at what weights: the coefficients a (the model's) and c
    (the part's) of a regression of the validation users' comparisons on both margins
    (comparison_margins, rate_crossfit.margin_coefficients). None where there is no comparison
    with a margin of the part's; else the record's fields: the comparisons, both coefficients,
    f"{part}_coefficient" and f"{part}_standard_error", weight c and scale max(a, 0) where c is
    at least MIN_STANDARD_ERRORS standard errors above 0, and weight 0 and scale 1 (not served:
    where it says nothing new it would cost its serving time for nothing) where it is not."""
    margins = comparison_margins(model, part_scorer, vectors, val_users) if val_users else []
    fitted = margin_coefficients(margins)
    if fitted is None:
        return None
    (a, c), (_, c_error) = fitted
    record = {"comparisons": len(margins), "users": len(val_users), "model_coefficient": round(a, 4),
              f"{part}_coefficient": round(c, 4), f"{part}_standard_error": round(c_error, 4),
              "selected_by": f"both coefficients of a regression of {len(val_users)} validation users' comparisons"}
    if c < MIN_STANDARD_ERRORS * c_error:
        return {**record, "weight": 0.0, "scale": 1.0}
    return {**record, "weight": round(c, 4), "scale": round(max(a, 0.0), 4)}


def add_choice_prior(model: nn.Module, dataset, train_ids, val_users, seed: int):
    """What `trainer.train --choice-prior auto` does last: (the model with the prior, or the model
    itself where the training users made no choice or the validation users do not show that the
    prior helps; a record for metrics.json). The preference is fitted on the training users'
    choices only, the two coefficients on the validation users `val_users` (1 and
    DEFAULT_WEIGHT without them)."""
    train_set = subset(dataset, train_ids)
    w = baselines.bradley_terry_weights(train_set)
    if w is None:
        return model, {"weight": 0.0, "choices": 0, "selected_by": "the training users made no choice"}
    rows = remembered_images(dataset.vectors, seed)
    record = {"choices": len(baselines.choice_pairs(train_set)), "images": int(len(rows)),
              "lookalikes": min(LOOKALIKES, len(rows))}
    # Built once, at weight and scale 1: the prior's scores are fitted with it, then it is reweighed.
    prior = attach_choice_prior(model, dataset.vectors, w, rows, DEFAULT_WEIGHT)
    table = torch.from_numpy(dataset.vectors)

    @torch.no_grad()
    def prior_scorer(h_items, h_labels, candidates):
        return prior.centred_preference(table[torch.from_numpy(candidates)].unsqueeze(0))[0].numpy()

    weighed = weigh_on_validation(model, prior_scorer, dataset.vectors, val_users, "prior")
    if weighed is None:
        record.update(weight=DEFAULT_WEIGHT, scale=1.0,
                      selected_by="the model as it is, the preference at its own scale: no validation users' comparisons")
        return prior, record
    record.update(weighed)
    return (prior.reweighed(record["weight"], record["scale"]) if record["weight"] else model), record
