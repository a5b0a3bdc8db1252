"""EVAL-1 (CONTRACTS.md section 2): pairwise and top-k accuracy on users the model never saw.

A scorer is any function (history_items, history_labels, candidate_items) -> scores, so the
model and every baseline are measured by the same code.
"""
import numpy as np
import torch

from .data import eval_users
from .model import preference_score


def evaluate_per_user(scorer, users) -> list:
    """Each user's pairs won, pairs, and top-k ranks (one scorer call per user), in user order:
    what paired comparisons between two scorers on the same users need."""
    out = []
    for u in users:
        items = sorted({i for p in u.pairs for i in p} | {i for like, dis in u.groups for i in [like, *dis]})
        h_items = np.array([r.item for r in u.history])
        h_labels = np.array([r.label for r in u.history])
        scores = dict(zip(items, scorer(h_items, h_labels, np.array(items))))
        won = sum(int(scores[like] > scores[dislike]) for like, dislike in u.pairs)
        ranks = [sum(int(scores[d] >= scores[like]) for d in dislikes) for like, dislikes in u.groups]
        out.append({"user": u.user, "won": won, "pairs": len(u.pairs), "ranks": ranks})
    return out


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
    table = torch.from_numpy(vectors).to(device)

    @torch.no_grad()
    def score(h_items, h_labels, candidates):
        model.eval()
        history = table[torch.from_numpy(h_items)].unsqueeze(0)
        labels = torch.from_numpy(h_labels).long().unsqueeze(0).to(device)
        mask = torch.ones_like(labels, dtype=torch.bool)
        logits, _ = model(history, labels, mask, table[torch.from_numpy(candidates)].unsqueeze(0))
        return preference_score(logits)[0].cpu().numpy()

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
