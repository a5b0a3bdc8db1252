"""A synthetic world's ideal learner by sampling (issue 14, session 35), in two forms: one that
reads the history's choices as choices, and one that reads only what the model's ONNX inputs
hold (CONTRACTS.md section 3: items and labels, no pair ids).

bench_world_ceiling's Bayes scorer takes the posterior mode of a Gaussian prior per group and
needs the pair ids: it reads two images of one choice in the history as one choice and leaves a
lone member of a choice out. The model cannot do either: `history_label` is 1 or 0 and nothing
says which rows were choices. So the question "how far could any model lead" has two answers,
and this module gives both from the same prior:
- the prior over a new user's taste is the training users' true tastes themselves (an empirical
  prior: their groups and spreads come with them, nothing Gaussian is assumed), `samples` of them;
- the posterior weighs each sample by the chance of the history's labels under it;
- a candidate scores by the posterior chance that a row of it is a like (like_chance, averaged
  over the posterior), the Bayes predictive rather than a plug-in of one taste (which is what
  bench_world_ceiling.like_probability_scorer scores).
With pair ids (`history_pairs`), a single image's label has chance σ(u / T), a choice whose two
images are both in the history σ(Δu / T), a lone member of a choice its chance of beating (or
losing to) an image of its style. Without them every row has the chance a row of that item has
in the world, single or one side of a choice in their shares: all a learner of the model's
inputs can know.
The predictive is the best-calibrated score, not the best ranking for every metric: on the
64,000-user short-history world the same posterior ranked by the single-image chance alone scored
68.76 / 43.68 pooled (pairwise / top-1) against the predictive's 68.27 / 43.92 (session 35). Read
its lead as what an ideal learner reaches, within a few tenths, not as a bound no scorer passes.
"""
import numpy as np

# Samples of the prior taken from the training users (a seeded draw). On the 64,000-user world's
# first 3,000 test users (2 + 2 history) 8,000 leave an effective sample size of 1,486 at the
# least (median 4,722 with pair ids, 5,206 without; session 35). A world with few training users
# or long histories leaves few: there session 22's Gaussian posterior mode is the reference.
SAMPLES = 8000
# A choice's chance is averaged over every image of the item's style, or over at most this many
# of them, drawn once (seeded), where it is set (bench:ceiling's --references). Every image of the
# judged-once pairwise world is a fresh draw from its style, so a style's images (5,000 there) are
# themselves a sample of what a choice's other image could be, and a subsample is a coarser one:
# there 1,000 moved the ideal learner's top-1 lead by -0.13 against all (pairwise -0.03), and the
# bench took 2 min 12 s against 6 min 55 s (session 54).
REFERENCES = None
# Elements of one block of (samples x images x references) comparisons: memory, 8 bytes each.
BLOCK_ELEMENTS = 25_000_000


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def sample_tastes(truth, train_users, samples=SAMPLES, seed=0):
    """[S, latent dim]: the true tastes of `samples` training users drawn without replacement."""
    users = sorted(train_users)
    chosen = np.random.default_rng(seed).permutation(len(users))[:samples]
    return np.stack([truth["taste"][users[i]] for i in sorted(chosen)])


def style_references(truth, references=REFERENCES, seed=0):
    """Per style, the images a choice's chance is averaged over: all of the style's, or
    `references` of them drawn without replacement where it is set and the style holds more."""
    rng = np.random.default_rng(seed)
    return [items if references is None or len(items) <= references else np.sort(rng.choice(items, references, replace=False))
            for items in truth["style_items"]]


def row_chances(truth, tastes, items=None, references=REFERENCES):
    """(utility [S, I], single [S, I], choice [S, I]) of the images `items` (all by default) under
    each taste [S, latent dim]: an image's utility, the chance a single image is liked, and the
    chance it wins a choice against an image of its style (the world draws both images of a choice
    from one style), averaged over the style's images (style_references), itself included where
    it is one of them."""
    q, noise, latent = truth["q"], truth["noise"], truth["latent"]
    items = np.arange(len(latent)) if items is None else np.asarray(items, dtype=int)

    def utility_of(columns):
        return (1 - q) * tastes @ latent[columns].T + q * (latent[columns] @ truth["quality"])[None, :]

    utility = utility_of(items)
    choice = np.zeros_like(utility)
    style_of = np.empty(len(latent), dtype=int)
    for style, members in enumerate(truth["style_items"]):
        style_of[members] = style
    for style, refs in enumerate(style_references(truth, references)):
        columns = np.flatnonzero(style_of[items] == style)
        if not len(columns):
            continue
        ref_utility = utility_of(refs)
        rows = max(1, min(len(utility), BLOCK_ELEMENTS // (len(columns) * len(refs))))
        width = max(1, BLOCK_ELEMENTS // (rows * len(refs)))
        for start in range(0, len(utility), rows):
            for first in range(0, len(columns), width):
                block = columns[first:first + width]
                u = utility[start:start + rows, block]
                choice[start:start + rows, block] = sigmoid((u[:, :, None] - ref_utility[start:start + rows, None, :]) / noise).mean(2)
    return utility, sigmoid(utility / noise), choice


def like_chance(single, choice, single_share):
    """The chance that a row of an image is a like: a single image's or a choice's, in the world's
    shares of the two."""
    return single_share * single + (1 - single_share) * choice


class SampledLearner:
    """The learner's scorers over one world's prior samples (computed once, shared by every user)."""

    def __init__(self, truth, tastes, single_share, items=None, references=REFERENCES):
        """`items`: the images any scorer will be asked about (a user's history and candidates), all
        of the world's by default; the chances are computed for these only. `references`: as
        row_chances takes it."""
        self.noise = truth["noise"]
        items = np.arange(len(truth["latent"])) if items is None else np.unique(np.asarray(items, dtype=int))
        self.column = np.full(len(truth["latent"]), -1)
        self.column[items] = np.arange(len(items))
        self.utility, self.single, self.choice = row_chances(truth, tastes, items, references)
        self.like = like_chance(self.single, self.choice, single_share)

    def scorer(self, history_pairs=None):
        """scorer(h_items, h_labels, candidates) for one user. `history_pairs`: each history row's
        pair id in the order the scorer is given the history; None reads every row as the model's
        inputs do (no pair ids)."""
        def score(h_items, h_labels, candidates):
            posterior = np.exp(self._log_likelihood(h_items, h_labels, history_pairs))
            return (posterior / posterior.sum()) @ self.like[:, self._columns(candidates)]
        return score

    def _columns(self, items):
        """The columns of these images in the learner's chances; an image it was not given is an error."""
        columns = self.column[np.asarray(items, dtype=int)]
        if (columns < 0).any():
            raise ValueError("SampledLearner: scored an image outside the `items` it was built for")
        return columns

    def _log_likelihood(self, h_items, h_labels, history_pairs):
        """[S]: log chance of the history's labels under each sample."""
        h_items = self._columns(h_items)
        def signed(chance, label):
            return np.log(np.maximum(chance if label == 1 else 1 - chance, 1e-30))
        total = np.zeros(len(self.like))
        if history_pairs is None:
            for item, label in zip(h_items, h_labels):
                total += signed(self.like[:, item], label)
            return total - total.max()
        assert len(history_pairs) == len(h_items)
        members = {}
        for item, label, pair in zip(h_items, h_labels, history_pairs):
            if pair:
                members.setdefault(pair, {})[int(label)] = item
        for item, label, pair in zip(h_items, h_labels, history_pairs):
            if not pair:
                total += signed(self.single[:, item], label)
            elif len(members[pair]) == 2:
                if label == 1:    # the choice once, from its winner's row
                    total += signed(sigmoid((self.utility[:, item] - self.utility[:, members[pair][0]]) / self.noise), 1)
            else:                 # a lone member: it beat (or lost to) an image of its style not seen here
                total += signed(self.choice[:, item], label)
        return total - total.max()
