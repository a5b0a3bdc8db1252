"""The network averaged with the per-user regression (issue 14, session 15).

The trained network borrows from other users; the per-user logistic regression (the strongest
baseline, trainer/baselines.py) reads only this user's history. They err differently, so the
average of their log-odds can beat both, and where one of them is useless its weight can go to
0 or 1, so a tenant is served the better of the two. After training, the regression is attached
to the model as its fitted per-user term (model.py, `regression_weight`) with the pull and prior
fixed: the prior is the global logistic regression on the training users' labels, the pull the
shrink that scores best on training users (as the baseline's), and the weight the one that
scores best on the validation users, who trained neither part. The result is one model under the
same ONNX contract; its user embedding is the network's.
"""
import math

import numpy as np
import torch

from . import baselines
from .compare import global_weights_sampled, paired
from .data import Dataset, choose_history_size
from .evaluate import evaluate_per_user, summarize
from .model import ModelConfig, PreferenceModel

# The first is the default (the even average); the others must beat it beyond noise.
WEIGHTS = (0.5, 0.25, 0.75, 0.0, 1.0)
# Standard errors of the paired difference on validation users, as the promotion gate's.
NOISE_SE = 2.0
# Nesterov steps of the in-model fit: 20 come within 0.3% of the exact solution on MovieLens.
FIT_STEPS = 20


# Training users the pull is chosen on, at most (as baselines.tune_shrink).
SHRINK_USERS = 150


def fit_regression(train_set: Dataset, seed: int):
    """The regression's prior (global weights, bias last) and pull, from the training users only:
    the pull that scores best under EVAL-1(n) on them, n by the tenant rule (a short-history
    tenant has no user with 8 likes and 8 dislikes to choose by)."""
    w_global = global_weights_sampled(train_set, seed)
    _, users = choose_history_size(train_set)
    results = baselines.shrink_results(users[:SHRINK_USERS], train_set.vectors, w_global)
    return w_global, max(results, key=results.get)


def attach_regression(model: PreferenceModel, w_global, shrink: float, weight: float) -> PreferenceModel:
    """A copy of `model` whose log-odds are (1 - weight) its own plus weight the per-user regression
    pulled by `shrink` towards `w_global`. Weight 0 is the model itself (a plain copy)."""
    if model.config.user_fit_steps:
        raise ValueError("attach_regression: the model already fits the user's regression inside (--user-fit)")
    if weight == 0.0:
        config = model.config
    else:
        config = ModelConfig(**{**model.config.to_dict(), "user_fit_steps": FIT_STEPS, "regression_weight": float(weight)})
    out = PreferenceModel(config)
    missing, unexpected = out.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"fit_prior.weight", "fit_prior.bias", "fit_pull"}, (missing, unexpected)
    if out.fit_prior is not None:
        with torch.no_grad():
            out.fit_prior.weight.copy_(torch.as_tensor(w_global[:-1], dtype=torch.float32).unsqueeze(0))
            out.fit_prior.bias.fill_(float(w_global[-1]))
            out.fit_pull.fill_(shrink + math.log(-math.expm1(-shrink)))   # softplus(raw) = shrink
        out.fit_pull.requires_grad_(False)
    return out.eval()


def log_odds_scorer(model: PreferenceModel, vectors: np.ndarray):
    """M+ - M-, the log-odds of like: ranks as Q does, without a softmax's saturation."""
    table = torch.from_numpy(vectors)

    @torch.no_grad()
    def score(h_items, h_labels, candidates):
        model.eval()
        labels = torch.from_numpy(h_labels).long().unsqueeze(0)
        logits, _ = model(table[torch.from_numpy(h_items)].unsqueeze(0), labels, torch.ones_like(labels, dtype=torch.bool),
                          table[torch.from_numpy(candidates)].unsqueeze(0))
        return (logits[0, :, 0] - logits[0, :, 1]).numpy()

    return score


def choose_weight(model: PreferenceModel, w_global, shrink: float, users: list, vectors: np.ndarray, weights=WEIGHTS,
                  noise_se: float = NOISE_SE):
    """The weight to serve, and each weight's EVAL-1 figures on `users`. The first weight (the even
    average) serves unless another scores better on these users by more than `noise_se` standard
    errors of the paired per-user difference; then the best of those that do. A few dozen
    validation users cannot tell weights a point apart, and picking the best by mean alone
    followed their noise: on MovieLens with unseen vectors (about 30 validation users) it chose
    weight 0 for one seed and scored 0.7 below the even average over three (session 15).
    Both parts are scored once per user and mixed per weight."""
    network = log_odds_scorer(model, vectors)
    regression = log_odds_scorer(attach_regression(model, w_global, shrink, 1.0), vectors)
    cache = {}

    def parts(h_items, h_labels, candidates):
        key = (h_items.tobytes(), h_labels.tobytes(), candidates.tobytes())
        if key not in cache:
            cache[key] = (network(h_items, h_labels, candidates), regression(h_items, h_labels, candidates))
        return cache[key]

    rows = {w: evaluate_per_user(lambda h, l, c, a=w: (1 - a) * parts(h, l, c)[0] + a * parts(h, l, c)[1], users) for w in weights}
    default = weights[0]
    best = default
    for weight in weights[1:]:
        d = paired(rows[weight], rows[default])
        se = d["standardError"]   # None with one user: no noise can be told then, so only noise_se 0 passes
        margin = noise_se * se if se is not None else (0.0 if noise_se == 0 else math.inf)
        if d["mean"] > margin and summarize(rows[weight])["pairwise"] > summarize(rows[best])["pairwise"]:
            best = weight
    return best, {w: summarize(r) for w, r in rows.items()}
