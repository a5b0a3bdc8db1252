"""The scorers our model must beat, each usable by evaluate.evaluate():

- random;
- global preference: logistic regression on all training labels, no history (a PickScore analogue);
- global pairwise preference (Bradley-Terry): a logistic regression on the difference of the
  two images of each training choice, no history, where the tenant has choices. PickScore itself
  is trained on choices this way; a label of a choice says only that one image beat the other, so
  a regression on single labels misreads it (session 22: 72.2 pairwise against 69.5 on the
  2,000-user catalogue pairwise world);
- the same, judged against look-alikes: that score less its mean over the image's nearest images
  (by cosine, the tenant's own catalogue). A choice is between two images of one prompt, so the
  score says which of two look-alikes wins, not whether an image of one prompt beats an image of
  another; top-1, whose candidates come from different choices, needs the second (session 22:
  48.2 top-1 against 36.3 uncentred on the 2,000-user catalogue pairwise world);
- history centroid: cosine to the mean liked vector minus cosine to the mean disliked one (ViPer proxy);
- per-user logistic regression on the history, shrunk towards the global model;
- item like rate: how often the training users liked each item, by item id, no vectors (the
  popularity baseline of recommender systems; session 18 found it the best top-1 baseline on
  MovieLens, where many users rate each item);
- co-likes: item-based collaborative filtering by item id, the other classic recommender
  baseline: a candidate scores by how the training users who rated it rated the history's items
  alike (session 24: summed with the regression and the rate it adds +1.4 pairwise and +3.1
  top-1 on MovieLens, where the shipped model gains -0.03 / +0.67 from it, the network having
  learnt it from the vectors' rating factors);
- user-kNN: user-based collaborative filtering, "users like them": a candidate scores by the
  votes of the training users whose likes and dislikes agree most with the history's, what the
  paper's preference tokens let a new user borrow;
- latent classes (trainer/latent_classes.py): users in K groups, each a logistic regression over
  item vectors, fitted by EM; a new user's group weighed by the history.
"""
import itertools
import math
import warnings

import numpy as np

from .data import choose_history_size, eval_users, split_users, subset
from .evaluate import evaluate, evaluate_per_user


def random_scorer(seed=0):
    rng = np.random.default_rng(seed)
    return lambda h_items, h_labels, candidates: rng.random(len(candidates))


def _with_bias(x):
    return np.hstack([x, np.ones((x.shape[0], 1), x.dtype)])


def fit_logistic(x, y, l2=1.0, prior=None, steps=25, weight=None, offset=None, start=None):
    """Newton's method for L2-regularised logistic regression, the penalty pulling towards `prior`.

    Minimises sum(weight * log(1 + exp(-s * (w.x + offset)))) + l2/2 * |w - prior|^2 over w (bias
    included; every row weighs 1 without `weight`, and has offset 0 without `offset`), from
    `start` (`prior` without it: a warm start lets EM take a few steps a round).
    """
    x = _with_bias(np.asarray(x, np.float64))
    y = np.asarray(y, np.float64)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    offset = np.zeros(len(y)) if offset is None else np.asarray(offset, np.float64)
    prior = np.zeros(x.shape[1]) if prior is None else prior
    w = np.array(prior if start is None else start, np.float64)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + offset)))
        grad = x.T @ (weight * (p - y)) + l2 * (w - prior)
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


# Rows a global fit reads at most: its Newton steps cost rows x dim^2, and a seeded sample of
# this size fits the same direction within noise on every tenant tried.
GLOBAL_FIT_ROWS = 100_000


def global_weights(dataset, l2=1.0):
    items = np.array([r.item for rows in dataset.users.values() for r in rows])
    labels = np.array([r.label for rows in dataset.users.values() for r in rows])
    return fit_logistic(dataset.vectors[items], labels, l2)


def choice_pairs(dataset):
    """[choices, 2] item indices (winner, loser): every pair id with one like and one dislike."""
    out = []
    for rows in dataset.users.values():
        sides = {}
        for r in rows:
            if r.pair:
                sides.setdefault(r.pair, {})[r.label] = r.item
        out += [(s[1], s[0]) for s in sides.values() if 0 in s and 1 in s]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def bradley_terry_weights(dataset, l2=1.0, max_rows=GLOBAL_FIT_ROWS, seed=0):
    """The global pairwise preference: P(a beats b) = σ(w · (x_a - x_b)), fitted on the training
    choices (each also mirrored, so the fit has no side to prefer and its bias is 0; a seeded
    sample where the mirrored rows would pass `max_rows`). None where the tenant has no choices.
    Returns weights in global_scorer's layout (a bias of 0 at the end)."""
    pairs = choice_pairs(dataset)
    if len(pairs) == 0:
        return None
    if 2 * len(pairs) > max_rows:
        pairs = pairs[np.random.default_rng(seed).choice(len(pairs), max_rows // 2, replace=False)]
    d = dataset.vectors[pairs[:, 0]].astype(np.float64) - dataset.vectors[pairs[:, 1]]
    w = fit_logistic(np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], l2)
    w[-1] = 0.0
    return w


LOOKALIKES = 50


def lookalike_centred_scorer(vectors, w, k=LOOKALIKES):
    """global_scorer's score less its mean over each candidate's k nearest items by cosine (the
    candidate itself included), computed for the candidates asked for and kept."""
    v = vectors.astype(np.float64)
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    scores = _with_bias(v) @ w
    k = min(k, len(v))
    known = {}

    def score(h_items, h_labels, candidates):
        new = np.array([c for c in dict.fromkeys(candidates.tolist()) if c not in known], dtype=np.int64)
        if len(new):
            nearest = np.argpartition(-(unit[new] @ unit.T), k - 1, axis=1)[:, :k]
            known.update(zip(new.tolist(), scores[new] - scores[nearest].mean(1)))
        return np.array([known[c] for c in candidates.tolist()])
    return score


def choice_scorers(dataset, vectors):
    """{name: scorer} of the global pairwise preferences fitted on `dataset`'s choices, over
    `vectors`; empty where the tenant has no choices."""
    w = bradley_terry_weights(dataset)
    if w is None:
        return {}
    return {
        "global pairwise preference (Bradley-Terry on the training choices, no history)": global_scorer(vectors, w),
        f"global pairwise preference less its mean over the {LOOKALIKES} nearest images (no history)":
            lookalike_centred_scorer(vectors, w),
    }


def global_scorer(vectors, w):
    scores = _with_bias(vectors.astype(np.float64)) @ w
    return lambda h_items, h_labels, candidates: scores[candidates]


def centroid_scorer(vectors):
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def score(h_items, h_labels, candidates):
        def direction(items):
            if len(items) == 0:
                return np.zeros(vectors.shape[1])
            m = vectors[items].mean(axis=0)
            return m / max(np.linalg.norm(m), 1e-12)
        liked = direction(h_items[h_labels == 1])
        disliked = direction(h_items[h_labels == 0])
        return unit[candidates] @ liked - unit[candidates] @ disliked

    return score


def per_user_scorer(vectors, w_global, shrink):
    """Per-user logistic regression on the history; `shrink` is the pull towards the global model."""
    def score(h_items, h_labels, candidates):
        w = fit_logistic(vectors[h_items], h_labels, l2=shrink, prior=w_global, steps=10)
        return _with_bias(vectors[candidates].astype(np.float64)) @ w
    return score


SHRINK_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
# The pulls the upper bounds choose among on the test users: wider, since an upper bound must not
# stop at the edge of its grid. The summed baselines' best was at both edges of SHRINK_GRID in
# session 27: 30 on MovieLens (86.86 pairwise at 100 against 86.79 at 30 and 300) and 0.3 on
# the default world (64.65 at 0.1 against 63.46 at 0.3 and 61.96 at 0.03).
UPPER_BOUND_SHRINK_GRID = (0.1, *SHRINK_GRID, 100.0)


def shrink_results(users, vectors, w_global, grid=SHRINK_GRID):
    """EVAL-1 pairwise accuracy of the per-user regression on these users at each shrink."""
    return {s: evaluate(per_user_scorer(vectors, w_global, s), users)["pairwise"] for s in grid}


def tune_shrink(train_dataset, w_global, grid=SHRINK_GRID, max_users=150):
    """Chooses the shrinkage on training users (never the test users) by EVAL-1 pairwise accuracy."""
    results = shrink_results(eval_users(train_dataset)[:max_users], train_dataset.vectors, w_global, grid)
    return max(results, key=results.get), results


RATE_PRIOR_GRID = (1.0, 3.0, 10.0, 30.0)


def item_like_counts(dataset):
    """{item id: (likes, dislikes)} over every interaction of `dataset`."""
    counts = {}
    for rows in dataset.users.values():
        for r in rows:
            likes, dislikes = counts.get(dataset.item_ids[r.item], (0, 0))
            counts[dataset.item_ids[r.item]] = (likes + r.label, dislikes + 1 - r.label)
    return counts


def overall_like_share(counts):
    """The overall like share of `counts`, kept off 0 and 1 (0.5 when empty)."""
    likes = sum(c[0] for c in counts.values())
    total = sum(c[0] + c[1] for c in counts.values())
    return min(max(likes / total, 1e-3), 1 - 1e-3) if total else 0.5


def item_rate_log_odds(counts, item_ids, prior_count):
    """float64 [len(item_ids)]: each item's log-odds of a like, its likes and dislikes shrunk
    towards the overall like share by `prior_count` pseudo-interactions (an item nobody rated
    gets the overall share). Items are matched by id, so `item_ids` may be another dataset's."""
    share = overall_like_share(counts)
    out = np.empty(len(item_ids))
    for k, item in enumerate(item_ids):
        n_like, n_dislike = counts.get(item, (0, 0))
        out[k] = math.log((n_like + prior_count * share) / (n_dislike + prior_count * (1 - share)))
    return out


def item_rate_scorer(counts, item_ids, prior_count):
    scores = item_rate_log_odds(counts, item_ids, prior_count)
    return lambda h_items, h_labels, candidates: scores[candidates]


def any_test_item_rated(rated, test):
    """Whether any item the `test` users rated is among `rated` (item ids: a set, or a dict keyed
    by them), as it never is where each image is judged once."""
    return any(test.item_ids[r.item] in rated for rows in test.users.values() for r in rows)


def unrated_caveat(counts, test):
    """What an item like rate row must say when no item the `test` users rated was rated in
    `counts`, as where each image is judged once: every candidate gets the overall share, and
    EVAL-1 counts a tie as wrong, so the rate scores 0. '' when some were rated."""
    if any_test_item_rated(counts, test):
        return ""
    return "; no test item was rated in training, so every score ties, which EVAL-1 counts as wrong"


def tune_rate_prior(train_dataset, grid=RATE_PRIOR_GRID, seed=0):
    """The pseudo-count of the item like rate, chosen on training users only: the rates are
    counted on half of them and scored under EVAL-1 (n by the tenant rule) on the other half."""
    counted, held_out = split_users(sorted(train_dataset.users), 0.5, seed)
    counts = item_like_counts(subset(train_dataset, counted))
    _, users = choose_history_size(subset(train_dataset, held_out))
    results = {a: evaluate(item_rate_scorer(counts, train_dataset.item_ids, a), users)["pairwise"] for a in grid}
    return max(results, key=results.get), results


# Co-likes: a similarity counts half at this many users who rated both items (fewer is noise).
CO_LIKE_SHRINK = 10.0
# A candidate's co-like score is a weighted mean over the history; this much of |similarity| is
# added to the weights, so a candidate like nothing in the history scores near 0.
CO_LIKE_DAMPING = 0.5
# The items compared, at most (the most rated; similarities are items x items). Set as the item
# rates' memory (trainer/item_rates.py MAX_ITEMS).
CO_LIKE_MAX_ITEMS = 2048
# Weights of the co-likes beside the regression and the rate (log-odds): each is tried. Up to 4
# until session 25, whose ceiling bench (trainer/bench_stack_ceiling.py) found the unseen-vectors
# world best at 8 (85.61 / 72.97 against 84.77 / 71.49 at 4; 83.80 at 16; MovieLens's stays 4):
# an upper bound must not stop at the edge of its grid.
CO_LIKE_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# The similarities a served model keeps (trainer/co_likes.py): the cosines' eigenpairs of the
# largest |eigenvalue|, this many (issue 14, session 51). Cosines counted on a few hundred users
# are noisy, and their rank-64 approximation is the better co-likes: alone, +1.32 ± 0.94 pairwise
# on MovieLens, +2.35 ± 0.87 on unseen vectors, +1.98 ± 1.29 on the default world (16-128 all at or
# above the whole matrix there), and within noise (-0.42 ± 0.54) on the 64,000-user world, where
# co-likes are near chance anyway. The model keeps K x 64 numbers where it kept K x K (8 MB in
# float16 at 2,048 items). The baselines are scored both ways (bench_seeds.baseline_results).
CO_LIKE_RANK = 64


def co_like_similarities(dataset, max_items=CO_LIKE_MAX_ITEMS, rank=None):
    """({item id: row}, float32 [K, K]): the cosines (co_like_cosines), the classic item-based
    baseline; or at `rank` (low_rank), 0 on the diagonal, as a served model scores them
    (CO_LIKE_RANK)."""
    if rank is None:
        return co_like_cosines(dataset, max_items)
    index, vectors, values = co_like_factors(dataset, max_items, rank)
    return index, similarity_matrix(vectors, values)


def co_like_factors(dataset, max_items=CO_LIKE_MAX_ITEMS, rank=CO_LIKE_RANK):
    """({item id: row}, vectors [K, r], values [r]): the cosines (co_like_cosines) at `rank`, as a
    served model keeps them (trainer/co_likes.py)."""
    index, cosines = co_like_cosines(dataset, max_items)
    return (index, *low_rank(cosines, rank))


def low_rank(similarities, rank=CO_LIKE_RANK):
    """(vectors [K, r], values [r], both float32) of the symmetric `similarities` [K, K]: the r =
    min(rank, K) eigenpairs of the largest |eigenvalue|, so similarities ~ vectors diag(values)
    vectors^T (exactly, up to round-off, where rank >= K)."""
    similarities = np.asarray(similarities, np.float64)
    if len(similarities) == 0:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    values, vectors = np.linalg.eigh((similarities + similarities.T) / 2)
    kept = np.sort(np.argsort(-np.abs(values), kind="stable")[:min(rank, len(values))])
    return vectors[:, kept].astype(np.float32), values[kept].astype(np.float32)


def similarity_matrix(vectors, values):
    """float32 [K, K]: vectors diag(values) vectors^T, 0 on the diagonal (an item is not its own
    co-like), as the served model computes it pair by pair."""
    out = (np.asarray(vectors, np.float64) * values) @ np.asarray(vectors, np.float64).T
    np.fill_diagonal(out, 0.0)
    return out.astype(np.float32)


def co_like_cosines(dataset, max_items=CO_LIKE_MAX_ITEMS):
    """({item id: row}, float32 [K, K]) over the at most `max_items` items rated most by
    `dataset`'s users (at least two each): the cosine between two items' columns of the users'
    +1 like / -1 dislike matrix, shrunk by n / (n + CO_LIKE_SHRINK) for the n users who rated
    both, 0 on the diagonal. Two items liked and disliked by the same users are alike. ({}, an
    empty matrix) where no item was rated twice, as where each image is judged once."""
    counts = item_like_counts(dataset)
    # Ties by the item's row, as the item rates order their memory (item_rates.remembered_items):
    # over the same items in the same order, a model's two memories are one tensor in its ONNX
    # file (the exporter keeps equal initializers once; 4 MB at 2,048 items of dimension 512).
    row_of = {item: row for row, item in enumerate(dataset.item_ids)}
    kept = sorted((item for item, c in counts.items() if sum(c) >= 2), key=lambda item: (-sum(counts[item]), row_of[item]))[:max_items]
    index = {item: k for k, item in enumerate(kept)}
    if not kept:
        return index, np.zeros((0, 0), np.float32)
    # Summed user by user (each user's rated items' outer products), so memory is K x K whatever
    # the number of users; a user's last label of an item is theirs.
    agree = np.zeros((len(kept), len(kept)))
    both = np.zeros((len(kept), len(kept)))
    for rows in dataset.users.values():
        signs = {}
        for r in rows:
            k = index.get(dataset.item_ids[r.item])
            if k is not None:
                signs[k] = 1.0 if r.label else -1.0
        if signs:
            ks, s = np.fromiter(signs.keys(), np.int64), np.fromiter(signs.values(), np.float64)
            agree[np.ix_(ks, ks)] += np.outer(s, s)
            both[np.ix_(ks, ks)] += 1.0
    norms = np.sqrt(both.diagonal())
    sim = agree / np.maximum(np.outer(norms, norms), 1e-9) * (both / (both + CO_LIKE_SHRINK))
    np.fill_diagonal(sim, 0.0)
    return index, sim.astype(np.float32)


def co_like_scorer(similarities, item_ids):
    """Each candidate's mean similarity to the history's likes less its dislikes, weighted by
    |similarity| (+ CO_LIKE_DAMPING): in [-1, 1], 0 for an item not compared. `item_ids` are
    the scored dataset's, matched by id."""
    index, sim = similarities
    rows = np.array([index.get(item, -1) for item in item_ids])

    def score(h_items, h_labels, candidates):
        h, c = rows[h_items], rows[candidates]
        sub = np.where((h[:, None] >= 0) & (c[None, :] >= 0), sim[np.maximum(h, 0)][:, np.maximum(c, 0)], 0.0)
        sign = np.where(np.asarray(h_labels) == 1, 1.0, -1.0)
        return (sign[:, None] * sub).sum(0) / (np.abs(sub).sum(0) + CO_LIKE_DAMPING)
    return score


def memoized(scorer):
    """`scorer`, each answer kept: a baseline scored again on the same users (a weight tried at
    each point of a grid) fits its per-user regressions once."""
    kept = {}

    def score(h_items, h_labels, candidates):
        key = (np.asarray(h_items).tobytes(), np.asarray(h_labels).tobytes(), np.asarray(candidates).tobytes())
        if key not in kept:
            kept[key] = scorer(h_items, h_labels, candidates)
        return kept[key]
    return score


def weighted_parts(base, weighted):
    """The scorer base + the sum of weight x part over `weighted`, pairs (weight, part); a part at
    weight 0 is not read, so a part the tenant lacks may be None there."""
    weighted = [(w, part) for w, part in weighted if w]

    def score(h_items, h_labels, candidates):
        out = base(h_items, h_labels, candidates)
        for weight, part in weighted:
            out = out + weight * part(h_items, h_labels, candidates)
        return out
    return score


def regression_scorers(vectors, w_global, grid=UPPER_BOUND_SHRINK_GRID):
    """{shrink: the per-user regression at that shrink, memoized}: each test user's regression
    fitted once per pull, and shared by the regression's own upper bound and every summed
    baseline built on it (regression_and_rate_scorers)."""
    return {s: memoized(per_user_scorer(vectors, w_global, s)) for s in grid}


def regression_and_rate_scorers(regressions, rate):
    """{shrink: the per-user regression at that shrink (regression_scorers) plus the item like
    rate (log-odds summed), memoized}, the base of every summed baseline. Its shrink is chosen with
    the other parts' weights (upper_bound_sum), not as the regression's alone: with the rate and
    the co-likes carrying the crowd the sum wants another pull (sessions 26-27: 10-100 on
    MovieLens, where the regression alone is best at 1 and a cross-fitted sum scored above the
    "upper bound" built on 1; 0.1 on the default world, where the regression alone is best at 1)."""
    return {s: memoized(summed_scorer(regression, rate)) for s, regression in regressions.items()}


def upper_bound_sum(test_users, regression_and_rate, parts=()):
    """((shrink, weights...), scorer): of regression_and_rate[shrink] + the sum of weight x part
    over `parts`, pairs (part, the weights it is tried at), the combination best pairwise on the
    test users themselves, every shrink and weight chosen together: an upper bound for that
    baseline, as upper_bound_shrink is for the regression. A part that is None is tried at 0 only.
    The scorers should be memoized: each is scored once per combination."""
    grids = [grid if part is not None else (0.0,) for part, grid in parts]
    results = {}
    for shrink, base in regression_and_rate.items():
        for weights in itertools.product(*grids):
            scorer = weighted_parts(base, zip(weights, (part for part, _ in parts)))
            results[(shrink, *weights)] = (evaluate(scorer, test_users)["pairwise"], scorer)
    best = max(results, key=lambda key: results[key][0])
    pulls = sorted(regression_and_rate)
    if len(pulls) > 1 and best[0] in (pulls[0], pulls[-1]):
        # The grid may stop short of the best pull (session 27: both edges of 0.3-30 were chosen).
        warnings.warn(f"upper_bound_sum: the best shrink, {best[0]}, is at the edge of the grid {tuple(pulls)}: "
                      "the upper bound may be higher beyond it", stacklevel=2)
    return best, results[best][1]


def summed_parts_grid(co_likes, user_knn):
    """The parts of the fullest summed baseline with the weights each is tried at: the co-likes
    (0 among them) and user-kNN's scorer (user_knn_part's first), for upper_bound_sum."""
    return [(co_likes, (0.0, *CO_LIKE_WEIGHTS)), (user_knn[0] if user_knn else None, (0.0, *USER_KNN_WEIGHTS))]


def cross_fitted_sum_rows(test_users, regression_and_rate, parts):
    """(evaluate_per_user rows in user order, the (shrink, weights...) chosen for each half): the
    summed baseline of upper_bound_sum with its choices made on the other half of the test users
    (every other user), so no user is scored by choices made on them. The upper bound chooses on
    the scored users themselves; this is what a deployment choosing on users like them could
    reach (session 26: 0.9 pairwise below the upper bound on unseen vectors)."""
    halves = (test_users[0::2], test_users[1::2])
    choices = [upper_bound_sum(halves[1 - k], regression_and_rate, parts) for k in range(2)]
    scored = [evaluate_per_user(choices[k][1], halves[k]) for k in range(2)]
    rows = [None] * len(test_users)
    rows[0::2], rows[1::2] = scored
    return rows, [chosen for chosen, _ in choices]


def co_like_part(train, test, rank=None):
    """The co-likes counted on `train` (the whole cosines, or at `rank`: co_like_similarities),
    scoring `test`'s items (memoized: sums try it at many weights), or None where no item was rated
    twice in training, as where each image is judged once."""
    similarities = co_like_similarities(train, rank=rank)
    return memoized(co_like_scorer(similarities, test.item_ids)) if similarities[0] else None


def co_like_scorers(train, test, test_users, regression_and_rate, co_likes=None):
    """{name: scorer} of the co-likes fitted on `train`, alone and beside the regression and the
    rate (regression_and_rate_scorers), the shrink and the weight the best pairwise on
    `test_users` (an upper bound); empty where no item was rated twice in training, as where each
    image is judged once. `co_likes`: co_like_part(train, test), when the caller has it."""
    co_likes = co_likes or co_like_part(train, test)
    if co_likes is None:
        return {}
    (shrink, weight), summed = upper_bound_sum(test_users, regression_and_rate, [(co_likes, CO_LIKE_WEIGHTS)])
    return {
        "co-likes (item-based collaborative filtering by item id, no vectors)": co_likes,
        f"per-user logistic regression (shrink {shrink}) + item like rate + {weight:g} x co-likes "
        "(shrink and weight chosen on the test users: an upper bound)": summed,
    }


def summed_scorer(*scorers):
    """The sum of scorers' log-odds, each fitted on its own: the per-user regression plus the item
    like rate treats the rate as what the crowd says and the regression as what the user adds."""
    return lambda h_items, h_labels, candidates: sum(s(h_items, h_labels, candidates) for s in scorers)


def upper_bound_shrink(test_users, vectors, w_global, grid=UPPER_BOUND_SHRINK_GRID):
    """The shrink that does best on the test users themselves: no deployment could choose it, so
    the per-user regression there is an upper bound for that baseline. It matters where training
    users mislead the choice: MovieLens's item vectors hold factors of the training users' own
    ratings, so a per-user fit looks better on them than on anyone new (shrink 0.3 chosen: 85.7
    pairwise on training users, 80.5 on test users, where shrink 1 gives 83.4)."""
    results = shrink_results(test_users, vectors, w_global, grid)
    return max(results, key=results.get)


# User-kNN ("users like them"): the classic recommender form of what the paper's preference
# tokens are for, letting a new user borrow from the training users whose likes and dislikes
# agree with theirs. A similarity counts half at this many items both rated (fewer is noise).
USER_KNN_SHRINK = 2.0
# A candidate's score is the neighbours' mean vote on it weighted by |similarity|; this much is
# added to the weights, so a candidate few neighbours rated scores near 0.
USER_KNN_DAMPING = 0.5
# Neighbours tried, chosen on training users (tune_user_knn). Session 26 screened 30, 100 and 300
# at shrink 2 and 5 on MovieLens and on unseen vectors: alone 74-81 pairwise, and no setting added
# more than +0.65 pairwise to the summed baseline with both weights chosen on the test users.
USER_KNN_GRID = (30, 100, 300)
# Weights of user-kNN beside the regression, the rate and the co-likes (log-odds): each is tried.
USER_KNN_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def user_knn_scorer(dataset, item_ids, neighbours):
    """Each candidate scored by the `neighbours` users of `dataset` most alike to the history: a
    user's similarity is their +1 like / -1 dislike agreement with the history's items, over
    sqrt(items they rated of the history x history length), shrunk by n / (n + USER_KNN_SHRINK)
    for the n they rated; the score is the similarity-weighted mean of their votes on the
    candidate (+ USER_KNN_DAMPING in the weights), in [-1, 1], 0 for an item none of them rated.
    `item_ids` are the scored dataset's, matched by id."""
    columns = {item: k for k, item in enumerate(dataset.item_ids)}
    users = sorted(dataset.users)
    # int8 +1 / -1 / 0: users x items, a quarter of float32's memory on large tenants.
    signs = np.zeros((len(users), len(dataset.item_ids)), np.int8)
    for u, user in enumerate(users):
        for r in sorted(dataset.users[user], key=lambda r: (r.ts, r.line)):   # a user's last label of an item is theirs
            signs[u, r.item] = 1 if r.label else -1
    rows = np.array([columns.get(item, -1) for item in item_ids])
    k = min(neighbours, len(users))

    def score(h_items, h_labels, candidates):
        h = rows[h_items]
        known = h >= 0
        if not known.any() or k == 0:
            return np.zeros(len(candidates))
        h, s = h[known], np.where(np.asarray(h_labels)[known] == 1, 1.0, -1.0)
        their = signs[:, h].astype(np.float64)
        shared = (their != 0).sum(1)
        sim = (their @ s) / np.sqrt(np.maximum(shared, 1) * len(h)) * (shared / (shared + USER_KNN_SHRINK))
        top = np.argpartition(-np.abs(sim), k - 1)[:k]
        c = rows[candidates]
        votes = np.where(c[None, :] >= 0, signs[top][:, np.maximum(c, 0)], 0).astype(np.float64)
        weight = sim[top, None]
        return (weight * votes).sum(0) / ((np.abs(weight) * (votes != 0)).sum(0) + USER_KNN_DAMPING)
    return score


def tune_user_knn(train_dataset, grid=USER_KNN_GRID, seed=0, max_users=300):
    """The number of neighbours, chosen on training users only: half of them are the neighbours,
    and at most `max_users` of the other half are scored under EVAL-1 (n by the tenant rule)."""
    neighbours, held_out = split_users(sorted(train_dataset.users), 0.5, seed)
    pool = subset(train_dataset, neighbours)
    _, users = choose_history_size(subset(train_dataset, held_out))
    results = {k: evaluate(user_knn_scorer(pool, train_dataset.item_ids, k), users[:max_users])["pairwise"] for k in grid}
    return max(results, key=results.get), results


def user_knn_part(train, test):
    """(user-kNN over `train`'s users scoring `test`'s items, memoized; its neighbours, chosen on
    training users), or None where no item the test users rated was rated in training, as where
    each image is judged once: every score would tie."""
    if not any_test_item_rated(set(train.item_ids), test):
        return None
    k, _ = tune_user_knn(train)
    return memoized(user_knn_scorer(train, test.item_ids, k)), k


def user_knn_scorers(train, test, test_users, regression_and_rate, co_likes=None, user_knn=None):
    """{name: scorer} of user-kNN over `train`'s users, alone (neighbours chosen on training users)
    and beside the regression and the rate (regression_and_rate_scorers) and the co-likes, the
    shrink and both weights the best pairwise on `test_users` (an upper bound, as the co-likes'
    is; the co-likes' weight may be 0). Empty where user_knn_part is None. `user_knn`:
    user_knn_part(train, test), when the caller has it."""
    part = user_knn or user_knn_part(train, test)
    if part is None:
        return {}
    knn, k = part
    (shrink, c, w), summed = upper_bound_sum(test_users, regression_and_rate,
                                             [(co_likes, (0.0, *CO_LIKE_WEIGHTS)), (knn, USER_KNN_WEIGHTS)])
    return {
        f"user-kNN ({k} most alike training users, chosen on training users; by item id, no vectors)": knn,
        f"per-user logistic regression (shrink {shrink}) + item like rate + {c:g} x co-likes + {w:g} x user-kNN "
        "(shrink and weights chosen on the test users: an upper bound)": summed,
    }
