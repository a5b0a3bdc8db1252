"""What the users who rated the history's items said of the candidate: co-likes, item-based
collaborative filtering by item id, added to the model's log-odds (issue 14, session 24).

Where many users rate the same items, two items liked and disliked by the same users are alike
whatever their vectors say (baselines.co_like_similarities). The network and the regression read
vectors only: where the vectors hold no collaborative factors, as an image encoder's never do,
they cannot learn it. On MovieLens with vectors no trained-on user shaped (unseen vectors), the
per-user regression and the item rate summed with the co-likes were 84.8 / 71.5 against the
shipped model's 83.4 / 69.8; on MovieLens as shipped, whose vectors hold 32 SVD factors of the
training users' ratings, the model already knew most of it (85.9 / 73.4 against 86.0 / 72.5).

After training (and after the regression and the item rates), the model remembers up to
baselines.CO_LIKE_MAX_ITEMS of the items the training users rated most (at least twice each)
and their similarities as the baseline scores them: the cosines' baselines.CO_LIKE_RANK
eigenpairs of the largest |eigenvalue| (session 51; the whole matrix before), S[h, z] =
sum_j V[h, j] lambda_j V[z, j]. Its log-odds become
scale * model + weight * co(z), co(z) = sum_h sign_h S[h, z] / (sum_h |S[h, z]| + damping)
over the history's remembered items h (sign +1 like, -1 dislike; padded slots, items not
remembered and the candidate itself count 0). Items are matched by vector inside the ONNX
graph, as the item rates match them (item_rates.match_remembered): a new image is no item of the
memory and adds nothing. A candidate's figure depends on it and the history only, so the ONNX
contract holds.

scale and weight are the coefficients of a logistic regression of the validation users'
comparisons on the model's margin and the co-likes' (rate_crossfit.margin_coefficients, one
vote per user, standard errors clustered by user), as the choice prior's are; the co-likes are
served only where weight is at least MIN_STANDARD_ERRORS standard errors above 0. The
similarities are counted on the training users only, so the validation users judge them fairly.
"""
import numpy as np
import torch
import torch.nn as nn

from . import baselines
from .choice_prior import weigh_on_validation
from .data import subset
from .item_rates import key_directions, match_remembered
from .log_odds_part import LogOddsPart
from .model import ModelConfig

# Without validation users: the model as it is, and the co-likes at the weight the summed
# baseline was best at on MovieLens's test users (baselines.CO_LIKE_WEIGHTS). Unseen vectors' best
# was 4 on the grid up to 4, and is 8 on the grid up to 16 (session 25).
DEFAULT_WEIGHT = 4.0


class WithCoLikes(LogOddsPart):
    """A model (anything build_model builds), its log-odds times co_like_scale, plus co_like_weight
    times the candidate's co-likes with the history."""
    SIZE, WEIGHT, SCALE, NEEDS = "co_like_memory", "co_like_weight", "co_like_scale", "the co-likes need at least 1 remembered item"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.register_buffer("memory_vectors", torch.zeros(config.co_like_memory, config.embedding_dim))
        # The similarities as r eigenpairs (baselines.low_rank): K x r numbers where the matrix took
        # K x K (8 MB in float16 at 2,048 items, before session 51; 512 kB now at rank 64).
        rank = config.co_like_rank or config.co_like_memory
        self.register_buffer("similarity_vectors", torch.zeros(config.co_like_memory, rank))
        self.register_buffer("similarity_values", torch.zeros(rank))
        self.register_buffer("key_directions", key_directions(config.embedding_dim))

    @classmethod
    def absent(cls) -> dict:
        return {**super().absent(), "co_like_rank": 0}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A checkpoint from before session 51 keeps the whole matrix (float16): served as it was,
        # through all its eigenpairs (its config's co_like_rank is 0, the full rank).
        matrix = state_dict.pop(prefix + "similarities", None)
        if matrix is not None:
            vectors, values = baselines.low_rank(matrix.float().numpy(), len(matrix))
            state_dict[prefix + "similarity_vectors"] = torch.from_numpy(vectors)
            state_dict[prefix + "similarity_values"] = torch.from_numpy(values)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def part_log_odds(self, history, history_label, history_mask, candidates):
        """[B, T]: each candidate's mean similarity to the history's likes less its dislikes,
        weighted by |similarity| (plus baselines.CO_LIKE_DAMPING); 0 where nothing is known."""
        h_nearest, h_known = match_remembered(history, self.memory_vectors, self.key_directions)       # [B, H]
        c_nearest, c_known = match_remembered(candidates, self.memory_vectors, self.key_directions)    # [B, T]
        values = self.similarity_values.to(history.dtype)
        h_rows = self.similarity_vectors[h_nearest].to(history.dtype) * values                         # [B, H, r]
        c_rows = self.similarity_vectors[c_nearest].to(history.dtype)                                  # [B, T, r]
        pairs = h_rows @ c_rows.transpose(1, 2)                                                        # [B, H, T]
        # An item is not its own co-like (baselines.similarity_matrix's diagonal).
        itself = h_nearest.unsqueeze(-1) == c_nearest.unsqueeze(1)
        valid = (h_known & history_mask).unsqueeze(-1) & c_known.unsqueeze(1) & ~itself
        pairs = torch.where(valid, pairs, torch.zeros_like(pairs))
        sign = (2 * history_label - 1).to(pairs.dtype).unsqueeze(-1)                                  # [B, H, 1]
        return (sign * pairs).sum(1) / (pairs.abs().sum(1) + baselines.CO_LIKE_DAMPING)


without_co_likes = WithCoLikes.stripped


def attach_co_likes(model: nn.Module, vectors: np.ndarray, rows, factors, weight: float, scale: float = 1.0) -> nn.Module:
    """A copy of `model` (without any co-likes it had), its log-odds times `scale`, that adds
    `weight` times the co-likes over the remembered items (`rows` of `vectors`), their
    similarities `factors` (vectors [K, r], values [r]: baselines.low_rank)."""
    similarity_vectors, values = (np.asarray(f, np.float32) for f in factors)
    out = WithCoLikes.around(model, len(rows), weight, scale, co_like_rank=len(values))
    with torch.no_grad():
        out.memory_vectors.copy_(torch.from_numpy(np.asarray(vectors[rows], np.float32)))
        out.similarity_vectors.copy_(torch.from_numpy(similarity_vectors))
        out.similarity_values.copy_(torch.from_numpy(values))
    return out.eval()


def remembered_similarities(dataset, train_ids):
    """(item rows of `dataset`, (vectors [K, r], values [r])) of the co-likes counted on the
    `train_ids` users (baselines.co_like_factors)."""
    index, *factors = baselines.co_like_factors(subset(dataset, train_ids))
    row_of = {item: k for k, item in enumerate(dataset.item_ids)}
    rows = np.zeros(len(index), np.int64)
    for item, k in index.items():
        rows[k] = row_of[item]
    return rows, tuple(factors)


def add_co_likes(model: nn.Module, dataset, train_ids, val_users):
    """What `trainer.train --co-likes auto` does after the item rates: (the model with the
    co-likes, or the model itself where no item was rated twice or the validation users
    `val_users` do not show that they help; a record for metrics.json)."""
    rows, similarities = remembered_similarities(dataset, train_ids)
    if len(rows) == 0:
        return model, {"weight": 0.0, "items": 0, "selected_by": "no item was rated by two training users"}
    record = {"items": int(len(rows))}
    # Built once, at weight 1 and scale 1: the co-likes' scores are fitted with it, then it is reweighed.
    with_co = attach_co_likes(model, dataset.vectors, rows, similarities, 1.0)
    table = torch.from_numpy(dataset.vectors)

    @torch.no_grad()
    def co_scorer(h_items, h_labels, candidates):
        labels = torch.from_numpy(h_labels).long().unsqueeze(0)
        return with_co.part_log_odds(table[torch.from_numpy(h_items)].unsqueeze(0), labels, torch.ones_like(labels, dtype=torch.bool),
                                     table[torch.from_numpy(candidates)].unsqueeze(0))[0].numpy()

    weighed = weigh_on_validation(model, co_scorer, dataset.vectors, val_users, "co_like")
    if weighed is None:
        record.update(weight=DEFAULT_WEIGHT, scale=1.0,
                      selected_by="the model as it is, the co-likes at the default weight: no validation users' comparisons")
        return with_co.reweighed(DEFAULT_WEIGHT, 1.0), record
    record.update(weighed)
    return (with_co.reweighed(record["weight"], record["scale"]) if record["weight"] else model), record
