"""The network trained on what the crowd leaves unexplained (issue 14, session 25; `trainer.train --residual`).

The served model adds the items' like rates (item_rates.py) and the co-likes (co_likes.py) to
the network's log-odds, but the network is trained without them: it spends its capacity on what
they already say (an item's popularity, which items the same users like) and their weights are
fitted afterwards on the few validation users. With `--residual` the crowd's log-odds are part
of training: every training target's log-odds are the network's plus

    rate_weight * rate(z) + co_weight * co(S, z),

and the served model adds the same two terms at the same weights, so the network learns what
they miss, a residual.

What a training user sees must be what a new user sees at serving: the crowd counted on other
users. A training user's own labels are in the training counts, so each episode's terms are
counted without them (leave one user out): the rate with the user's labels of the item taken
out (as item_rates.rate_weight_beyond_vectors counts it), and each similarity between a history
item and a target with the user's own agreement taken out of its sum and the user taken out of
both items' raters. Without this the rate of a target would hold the answer.

The two weights start from a logistic regression of the training users' targets, one sampled
episode each, on the two terms so counted, and are learnt with the network (trainer.train: not
decayed, at CROWD_LR_FACTOR times its learning rate); the kept epoch's weights are served. No
validation user's label chooses them, except through the epoch kept.
"""
import numpy as np

from . import baselines
from .co_likes import attach_co_likes
from .data import subset
from .item_rates import attach_item_rates, remembered_items, served_rate

# Episodes per training user whose targets fit the two weights' start (one is plenty: the fit has 3 numbers).
FIT_EPISODES_PER_USER = 1
# The two weights are then learnt with the network at this multiple of its learning rate.
CROWD_LR_FACTOR = 10.0


class CrowdOffsets:
    """The rates and co-likes of the training users `train_ids` of `dataset`, and each training
    episode's terms counted without its own user."""

    def __init__(self, dataset, train_ids, seed):
        train = subset(dataset, train_ids)
        self.dataset = dataset
        self.prior_count, _ = baselines.tune_rate_prior(train, seed=seed)
        counts = baselines.item_like_counts(train)
        self.share = baselines.overall_like_share(counts)
        self.rate_rows, self.rate_log_odds = remembered_items(dataset, counts, self.prior_count)
        # Per item row: the training users' likes and dislikes, and whether its rate is served.
        n = len(dataset.item_ids)
        self.likes = np.array([counts.get(item, (0, 0))[0] for item in dataset.item_ids], np.float64)
        self.dislikes = np.array([counts.get(item, (0, 0))[1] for item in dataset.item_ids], np.float64)
        self.rated = np.zeros(n, bool)
        self.rated[self.rate_rows] = True
        index, self.agree, self.both = baselines.co_like_counts(train)
        row_of = {item: k for k, item in enumerate(dataset.item_ids)}
        self.co_rows = np.array([row_of[item] for item in index], np.int64)   # memory slot -> item row
        self.slot = np.full(n, -1, np.int64)                                   # item row -> memory slot
        self.slot[self.co_rows] = np.arange(len(self.co_rows))
        self.similarities = baselines.co_like_similarities(train)[1]
        # Each training user's own labels: (likes, dislikes) per item row, and their co-likes' signs.
        self.own = {}
        for user in train_ids:
            mine = {}
            for r in dataset.users[user]:
                likes, dislikes = mine.get(r.item, (0, 0))
                mine[r.item] = (likes + r.label, dislikes + 1 - r.label)
            signs = {}
            for r in dataset.users[user]:
                signs[r.item] = 1.0 if r.label else -1.0     # the last label, as co_like_counts counts it
            self.own[user] = (mine, signs)
        self.rate_weight, self.co_weight = 0.0, 0.0

    def terms(self, user, history_items, history_labels, targets):
        """(rate [T], co [T]) of the episode's targets (item rows), counted without `user`."""
        mine, signs = self.own[user]
        own = np.array([mine.get(t, (0, 0)) for t in targets], np.float64).reshape(-1, 2)
        likes, dislikes = self.likes[targets] - own[:, 0], self.dislikes[targets] - own[:, 1]
        rate = np.where(self.rated[targets], served_rate(likes, dislikes, self.prior_count, self.share), 0.0)
        h_slot, t_slot = self.slot[np.asarray(history_items)], self.slot[np.asarray(targets)]
        h_known, t_known = h_slot >= 0, t_slot >= 0
        co = np.zeros(len(targets))
        if h_known.any() and t_known.any():
            h, t = h_slot[h_known], t_slot[t_known]
            # The user rated every history item and every target: take their agreement out of each
            # pair's sum, them out of the pair's and each item's raters.
            h_sign = np.array([signs[i] for i in np.asarray(history_items)[h_known]])
            t_sign = np.array([signs[i] for i in np.asarray(targets)[t_known]])
            agree = self.agree[np.ix_(h, t)] - np.outer(h_sign, t_sign)
            both = self.both[np.ix_(h, t)] - 1.0
            sim = baselines.similarities_of(agree, both, np.sqrt(np.maximum(self.both[h, h] - 1.0, 0.0)),
                                            np.sqrt(np.maximum(self.both[t, t] - 1.0, 0.0)))
            sim = np.where(h[:, None] == t[None, :], 0.0, sim)
            label_sign = 2.0 * np.asarray(history_labels, np.float64)[h_known] - 1.0
            co[t_known] = (label_sign[:, None] * sim).sum(0) / (np.abs(sim).sum(0) + baselines.CO_LIKE_DAMPING)
        return rate, co

    def episode_terms(self, episodes, users, pairs):
        """[2, B, 2 P] float32: the rate and the co-likes of each episode's targets (likes, then
        dislikes, each padded to `pairs` with 0), counted without the episode's user."""
        out = np.zeros((2, len(episodes), 2 * pairs), np.float32)
        for b, (e, user) in enumerate(zip(episodes, users)):
            terms = np.stack(self.terms(user, e.history_items, e.history_labels, np.concatenate([e.pos, e.neg])))
            p = len(e.pos)
            out[:, b, :p], out[:, b, pairs:pairs + p] = terms[:, :p], terms[:, p:]
        return out

    def set_weights(self, rate_weight, co_weight):
        self.rate_weight, self.co_weight = round(max(float(rate_weight), 0.0), 4), round(max(float(co_weight), 0.0), 4)

    def fit_weights(self, episodes, users):
        """Fits rate_weight and co_weight: a logistic regression of these episodes' targets
        (liked 1, disliked 0) on their two terms, each kept >= 0; returns (rate_weight, co_weight)."""
        rows, labels = [], []
        for e, user in zip(episodes, users):
            rate, co = self.terms(user, e.history_items, e.history_labels, np.concatenate([e.pos, e.neg]))
            rows.append(np.stack([rate, co], 1))
            labels += [1] * len(e.pos) + [0] * len(e.neg)
        w = baselines.fit_logistic(np.concatenate(rows), np.array(labels), 1.0)
        self.set_weights(w[0], w[1])
        return self.rate_weight, self.co_weight

    def attach(self, model):
        """The served model: `model` plus the rates and the co-likes (counted on every training
        user) at the fitted weights; a part whose weight is 0 or that remembers no item is left out."""
        if self.rate_weight and len(self.rate_rows):
            model = attach_item_rates(model, self.dataset.vectors, self.rate_rows, self.rate_log_odds, self.rate_weight)
        if self.co_weight and len(self.co_rows):
            model = attach_co_likes(model, self.dataset.vectors, self.co_rows, self.similarities, self.co_weight)
        return model
