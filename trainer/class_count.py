"""How many latent classes a tenant's taste groups get (issue 14, session 56).

Since session 55 the user embedding is the mixture of EM's latent classes (group_network.py's
class_group_network), one class per preference token, 10. A tenant with more taste groups than
that could not be told apart: on a world of 16 groups, ARI 0.33 at the true k. Here the count is
chosen by how well classes fitted on half the training users explain the other half's labels (each
held-out user's log-likelihood of all their labels under the mixture, both halves held out in
turn): a held-out user is explained by their group's class, so classes beyond the groups add
nothing there. The count chosen is the smallest that gains GAIN_SHARE of the best count's gain over
one class, and the count served is at least MIN_CLASSES: the choice only ever adds classes. On the
synthetic worlds of 800 training users it chose 6 where there are 6 groups, 12-16 where 12 or 16,
and one class where users' tastes differ too little, by their labels, to tell apart; smaller
tenants choose fewer (docs/taste-groups.md, "How many classes"). Serving the count chosen as it is
grouped small tenants worse than 10 classes (a 62-user tenant of 6 groups: ARI 0.45 against 0.59,
its classes 24, 2 and 24 by seed before MIN_USERS_PER_CLASS), and the one-standard-error rule
found such a tenant groupless on 1 seed of 3.
"""
import numpy as np

from .data import split_users, subset
from .latent_classes import fit_latent_classes, user_log_likelihoods, whole_users

# The fewest classes served (session 55's count). Fewer classes than groups merge groups, which no
# clustering after can part, and as many classes as groups is fragile: EM's local optima merge two
# and split another (six-group world, 800 users: 6 classes grouped at ARI 0.73 on one seed of 3
# where 10 gave 0.93). Classes beyond the groups split a group among classes of like taste, which
# k-means joins again. So the count chosen only ever adds classes, where users need more than this
# (12 and 16 groups); and where one class explains held-out users best (tastes that differ too
# little to tell groups apart), these many place users along their continuous tastes, so similar
# users still differ and silhouette stays low (0.19-0.22 on a world without groups), where one class
# would embed every user alike.
MIN_CLASSES = 10
# A class is fitted on this many users or more: counts above a fitted half's users / this are not tried.
MIN_USERS_PER_CLASS = 5
# Counts tried. The taste-group network's tastes are set exactly only up to its width (64), and
# EM's time grows with the count.
CLASS_COUNTS = (1, 2, 4, 6, 8, 12, 16, 24)
# Labels the choice reads at most, as a seeded sample of whole users: about 1,000 users of 60
# labels, so that a tenant of any size chooses in about 10 s (9-11 s alone on 720, 2,160 and
# 22,400 training users; the served classes' fit is 1-2 s more).
CHOICE_ROWS = 60_000
# Past the groups' count the held-out likelihood is flat, and where labels are clean the best count
# is whichever noise favours (24 for a test world of 4 groups): the smallest count that gains this
# share of the best count's gain over one class is as good and says what the groups are.
GAIN_SHARE = 0.95


def folds_of(users, folds: int, seed: int):
    """`users` in `folds` disjoint parts: two are split_users' halves (the choice as measured since
    session 56); more are a seeded permutation dealt in turn."""
    if folds == 2:
        return list(split_users(users, 0.5, seed))
    order = np.random.default_rng(seed).permutation(len(users))
    return [sorted(users[i] for i in order[f::folds]) for f in range(folds)]


def held_out_log_likelihoods(dataset, users, seed: int, counts=CLASS_COUNTS, folds: int = 2):
    """({count: [sampled users] each held-out user's log-likelihood of their labels}, labels counted)
    for `users` of `dataset` (at most CHOICE_ROWS labels of them, whole users), each of `folds`
    parts held out in turn from classes fitted on the others."""
    pool = subset(dataset, users)
    sampled = whole_users(pool, CHOICE_ROWS, seed)
    if len(sampled) < folds:
        raise ValueError(f"held_out_log_likelihoods: {len(sampled)} users cannot be split in {folds} to hold each part out")
    parts = folds_of(sampled, folds, seed)
    fitted_users = len(sampled) - max(map(len, parts))
    by_count = {}
    for k in (c for c in counts if c == 1 or c * MIN_USERS_PER_CLASS <= fitted_users):
        held_outs = []
        # The second part first: two folds sum in session 56's order, so its choices repeat to the digit.
        for held_out in parts[1:] + parts[:1]:
            fit_on = [u for part in parts if part is not held_out for u in part]
            weights, prior = fit_latent_classes(subset(pool, fit_on), k, seed)
            held_outs.append(user_log_likelihoods(weights, prior, subset(pool, held_out))[0])
        by_count[k] = np.concatenate(held_outs)
    # Every part held out in turn: every sampled user's labels, whatever the count.
    return by_count, sum(len(pool.users[u]) for u in sampled)


def choose_class_count(dataset, users, seed: int, counts=CLASS_COUNTS, folds: int = 2):
    """(the count, {count: held-out log-likelihood per label}): the smallest count whose gain over
    one class reaches GAIN_SHARE of the best count's gain; one where no count gains."""
    by_count, labels = held_out_log_likelihoods(dataset, users, seed, counts, folds)
    per_label = {k: float(v.sum() / labels) for k, v in by_count.items()}
    gain = {k: v - per_label[1] for k, v in per_label.items()}
    best = max(gain.values())
    return (1 if best <= 0 else min(k for k, g in gain.items() if g >= GAIN_SHARE * best)), per_label


def served_class_count(chosen: int, width: int) -> int:
    """The classes the taste-group network serves for a count chosen: at least MIN_CLASSES (the
    network's width at most, which holds that many tokens)."""
    return max(chosen, min(MIN_CLASSES, width))


CHOSEN_BY = "held-out log-likelihood per label, the training users' halves fitted and held out in turn"


def class_count_for_run(dataset, users, seed: int, width: int, asked=None, folds: int = 2):
    """(the classes a run's taste-group network serves, their record for metrics.json): `asked`
    (--group-classes K) as it is, else the count chosen on `users` (counts up to `width`), served at
    MIN_CLASSES at least; MIN_CLASSES where fewer than 2 users leave no half to hold out. `folds`
    other than 2 is bench:class-count's (--folds), measured and not adopted (docs/taste-groups.md)."""
    if asked is not None:
        return asked, {"chosen": asked, "chosen_by": "--group-classes", "held_out_log_likelihood": None}
    if len(users) < folds:
        return (served_class_count(1, width),
                {"chosen": None, "chosen_by": f"none: {len(users)} training users leave no {'half' if folds == 2 else 'part'} to hold out",
                 "held_out_log_likelihood": None})
    chosen, by_count = choose_class_count(dataset, users, seed, [c for c in CLASS_COUNTS if c <= width], folds)
    chosen_by = CHOSEN_BY if folds == 2 else f"held-out log-likelihood per label, the training users in {folds} parts held out in turn"
    return served_class_count(chosen, width), {"chosen": chosen, "chosen_by": chosen_by, "held_out_log_likelihood": by_count}
