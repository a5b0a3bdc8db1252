"""EVAL-1 (CONTRACTS.md section 2): pairwise and top-k accuracy on users the model never saw.

A scorer is any function (history_items, history_labels, candidate_items) -> scores, so the
model and every baseline are measured by the same code.
"""
import numpy as np
import torch

from .data import eval_users
from .model import preference_score

# Users scored in one pass by a batched_scorer.
BATCH_USERS = 256


def evaluate_per_user(scorer, users) -> list:
    """Each user's pairs won, pairs, and top-k ranks (one scorer request per user), in user order:
    what paired comparisons between two scorers on the same users need."""
    requests = [eval_request(u) for u in users]
    out = []
    for u, (_, _, items), row in zip(users, requests, score_all(scorer, requests)):
        scores = dict(zip(items.tolist(), row))
        won = sum(int(scores[like] > scores[dislike]) for like, dislike in u.pairs)
        ranks = [sum(int(scores[d] >= scores[like]) for d in dislikes) for like, dislikes in u.groups]
        out.append({"user": u.user, "won": won, "pairs": len(u.pairs), "ranks": ranks})
    return out


def eval_request(u, pairs_only=False) -> tuple:
    """What a scorer is asked for an EvalUser: (history items, history labels, candidates), the
    candidates being the items of the user's pairs and top-k groups (of the pairs alone with
    `pairs_only`), in item order."""
    items = {i for pair in u.pairs for i in pair}
    if not pairs_only:
        items |= {i for like, dislikes in u.groups for i in [like, *dislikes]}
    return np.array([r.item for r in u.history]), np.array([r.label for r in u.history]), np.array(sorted(items), dtype=np.int64)


def score_all(scorer, requests) -> list:
    """scorer(h_items, h_labels, candidates) for each request, in order: by the scorer's `many`
    (many users in one pass) where it has one, else one call each."""
    many = getattr(scorer, "many", None)
    return many(requests) if many is not None else [scorer(*request) for request in requests]


def summarize(per_user) -> dict:
    """EVAL-1's figures from evaluate_per_user's rows: pairwise pooled over pairs, top-k over groups."""
    correct = sum(r["won"] for r in per_user)
    total = sum(r["pairs"] for r in per_user)
    ranks = np.array([k for r in per_user for k in r["ranks"]])
    return {
        "pairwise": 100.0 * correct / max(total, 1),
        "top1": 100.0 * float(np.mean(ranks < 1)) if len(ranks) else 0.0,
        "top2": 100.0 * float(np.mean(ranks < 2)) if len(ranks) else 0.0,
        "top3": 100.0 * float(np.mean(ranks < 3)) if len(ranks) else 0.0,
        "users": len(per_user),
        "pairs": total,
    }


def evaluate(scorer, users) -> dict:
    """Scores each user's pair and top-k candidates with one scorer call per user."""
    return summarize(evaluate_per_user(scorer, users))


def model_scorer(model, vectors: np.ndarray, device="cpu"):
    """Wraps a PreferenceModel as a scorer: Q = softmax(logits)[like]."""
    return batched_scorer(model, vectors, preference_score, device)


class _NoHistory(torch.nn.Module):
    """`model` shown one masked history slot per user whatever the history: what the API sends
    for a user with no likes yet (src/inference/tensors.ts, withPlaceholderHistory)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, history, history_label, history_mask, candidates):
        B, D = candidates.shape[0], candidates.shape[-1]
        return self.model(candidates.new_zeros(B, 1, D), history_label.new_zeros(B, 1), history_mask.new_zeros(B, 1), candidates)


def no_history_scorer(model, vectors: np.ndarray, device="cpu"):
    """model_scorer for users the model knows nothing of: the history asked with is withheld."""
    return batched_scorer(_NoHistory(model), vectors, preference_score, device)


def batched_scorer(model, vectors: np.ndarray, head, device="cpu"):
    """A scorer of `model` (any module with the model's forward) giving head(logits [B, T, 2]) ->
    [B, T] for each candidate, with `many(requests)`: the requests grouped by history and
    candidate count and scored BATCH_USERS at a time, with no padding, so a user's scores are
    those of a call of their own (up to the products' rounding; the scores' order within a user
    is what EVAL-1 reads). One call per user made validation the largest cost outside training
    (1,119 users: 1.9 s per epoch at 64,000 users, session 32)."""
    table = torch.from_numpy(vectors).to(device)

    @torch.no_grad()
    def run(h_items, h_labels, candidates):
        model.eval()
        labels = torch.from_numpy(h_labels).long().to(device)
        logits, _ = model(table[torch.from_numpy(h_items)], labels, torch.ones_like(labels, dtype=torch.bool),
                          table[torch.from_numpy(candidates)])
        return head(logits).cpu().numpy()

    def score(h_items, h_labels, candidates):
        return run(h_items[None], h_labels[None], candidates[None])[0]

    def many(requests):
        out = [None] * len(requests)
        by_shape = {}
        for k, (h_items, _, candidates) in enumerate(requests):
            by_shape.setdefault((len(h_items), len(candidates)), []).append(k)
        for ks in by_shape.values():
            for start in range(0, len(ks), BATCH_USERS):
                chunk = ks[start:start + BATCH_USERS]
                rows = run(*(np.stack([requests[k][part] for k in chunk]) for part in range(3)))
                for k, row in zip(chunk, rows):
                    out[k] = row
        return out

    score.many = many
    return score


@torch.no_grad()
def user_embeddings(model, vectors, users, device="cpu"):
    """The model's user embedding for each EvalUser (for clustering)."""
    model.eval()
    table = torch.from_numpy(vectors).to(device)
    out = []
    for u in users:
        h = torch.from_numpy(np.array([r.item for r in u.history]))
        labels = torch.tensor([[r.label for r in u.history]], device=device)
        _, emb = model(table[h].unsqueeze(0), labels, torch.ones_like(labels, dtype=torch.bool), table[h[:1]].unsqueeze(0))
        out.append(emb[0].cpu().numpy())
    return np.stack(out)


def evaluate_model(model, dataset, n_ref=8, device="cpu"):
    return evaluate(model_scorer(model, dataset.vectors, device), eval_users(dataset, n_ref))
