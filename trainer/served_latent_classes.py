"""The latent classes (latent_classes.py) as a part of the served model, added to its log-odds as
the co-likes are (issue 14, session 29).

Session 28 made the latent-class model a baseline, and on the default world (users in taste
groups) it read group membership as well as the network did: alone it scored 66.6 / 51.1 against
the shipped stack's 66.9 / 49.2, above it on top-1. Added beside the shipped stack's log-odds it
gave +0.3-0.5 pairwise and +0.5-1.8 top-1 there, and at most +0.3 on MovieLens, where validation
mostly left it out (docs/preference-model.md, session 28). The network's preference tokens are
meant to carry groups; EM finds them better, so the served model takes both.

After training (and after the regression, the item rates and the co-likes), K classes are fitted
by EM on the training users (K chosen on them too: latent_classes.tune_latent_classes), and the
model's log-odds become scale * model + weight * lc(S, z), lc the log-odds of the mixture's chance
of a like, the classes weighed by how well each explains the history. It reads item vectors only,
so a new image is scored by it as any other, and the history's padded slots count nothing. A
candidate's figure depends on it and the history only, so the ONNX contract holds.

scale and weight are chosen as the co-likes' and the choice prior's are
(choice_prior.weigh_on_validation): the coefficients of a logistic regression of the validation
users' comparisons on the model's margin and the classes', the classes served only where their
weight is at least choice_prior.MIN_STANDARD_ERRORS standard errors above 0, and not at all
without validation users. The classes are fitted on the training users only, so the validation
users judge them fairly.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .choice_prior import weigh_on_validation
from .data import subset
from .latent_classes import fit_latent_classes, latent_class_scorer, tune_latent_classes
from .log_odds_part import LogOddsPart
from .model import ModelConfig


class WithLatentClasses(LogOddsPart):
    """A model (anything build_model builds), its log-odds times latent_class_scale, plus
    latent_class_weight times the latent classes' log-odds."""
    SIZE, WEIGHT, SCALE = "latent_class_count", "latent_class_weight", "latent_class_scale"
    NEEDS = "the latent classes need at least 1 class"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.register_buffer("class_weights", torch.zeros(config.latent_class_count, config.embedding_dim))
        self.register_buffer("class_bias", torch.zeros(config.latent_class_count))
        self.register_buffer("log_prior", torch.zeros(config.latent_class_count))

    def part_log_odds(self, history, history_label, history_mask, candidates):
        """[B, T]: latent_classes.latent_class_scorer's figure, log P(like) - P(dislike) under the
        mixture of the classes weighed by prior times the history's likelihood under each."""
        margins = history @ self.class_weights.T + self.class_bias                                 # [B, H, K]
        sign = (2 * history_label - 1).to(margins.dtype).unsqueeze(-1)
        # log sigmoid(x) as -softplus(-x): exported as Softplus, which does not round to log(0).
        fits = torch.where(history_mask.unsqueeze(-1), -F.softplus(-sign * margins), torch.zeros_like(margins))
        log_posterior = torch.log_softmax(fits.sum(1) + self.log_prior, -1).unsqueeze(1)           # [B, 1, K]
        scores = candidates @ self.class_weights.T + self.class_bias                               # [B, T, K]
        return torch.logsumexp(log_posterior - F.softplus(-scores), -1) - torch.logsumexp(log_posterior - F.softplus(scores), -1)


without_latent_classes = WithLatentClasses.stripped


def attach_latent_classes(model: nn.Module, weights, prior, weight: float, scale: float = 1.0) -> nn.Module:
    """A copy of `model` (without any latent classes it had), its log-odds times `scale`, that adds
    `weight` times the log-odds of the classes `weights` [K, D + 1] (bias last) with `prior` [K]
    (latent_classes.fit_latent_classes)."""
    weights = np.asarray(weights, np.float64)
    out = WithLatentClasses.around(model, len(weights), weight, scale)
    with torch.no_grad():
        out.class_weights.copy_(torch.from_numpy(weights[:, :-1]).float())
        out.class_bias.copy_(torch.from_numpy(weights[:, -1]).float())
        out.log_prior.copy_(torch.from_numpy(np.log(np.asarray(prior, np.float64) + 1e-12)).float())
    return out.eval()


def add_latent_classes(model: nn.Module, dataset, train_ids, val_users, seed: int):
    """What `trainer.train --latent-classes auto` does after the co-likes: (the model with the
    latent classes, or the model itself where the validation users `val_users` do not show that
    they help; a record for metrics.json)."""
    train = subset(dataset, train_ids)
    classes, tried = tune_latent_classes(train, seed=seed)
    weights, prior = fit_latent_classes(train, classes, seed)
    record = {"classes": classes, "held_out_pairwise_by_classes": {str(k): round(v, 2) for k, v in tried.items()},
              "class_shares": [round(float(p), 3) for p in prior]}
    weighed = weigh_on_validation(model, latent_class_scorer(dataset.vectors, weights, prior), dataset.vectors, val_users, "class")
    if weighed is None:
        return model, {**record, "weight": 0.0, "scale": 1.0,
                       "selected_by": "not served: no validation users' comparisons to show that they help"}
    record.update(weighed)
    return (attach_latent_classes(model, weights, prior, record["weight"], record["scale"]) if record["weight"] else model), record
