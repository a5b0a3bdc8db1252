import unittest

import numpy as np

from trainer.baselines import global_weights
from trainer.data import Dataset, Interaction
from trainer.latent_classes import _class_log_likelihoods, _rows, fit_latent_classes, latent_class_scorer, tune_latent_classes


def two_groups(users=80, items=200, per_user=12, seed=3, groups=2):
    """A Dataset whose items vary along two axes; group 0 (even users) likes items high on axis 0,
    group 1 items low on it (with groups=1, every user is in group 0)."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(items, 2)).astype(np.float32)
    rows = {}
    for u in range(users):
        g = u % groups
        chosen = rng.choice(items, per_user, replace=False)
        like = (vectors[chosen, 0] > 0) == (g == 0)
        rows[f"u{u}"] = [Interaction(int(i), int(l), 0, k, "") for k, (i, l) in enumerate(zip(chosen, like))]
    return Dataset("", vectors, [str(i) for i in range(items)], [""] * items, rows)


class LatentClasses(unittest.TestCase):
    def test_each_users_log_likelihood_sums_their_rows_in_order_to_the_bit(self):
        # The sums np.add.at made before (session 33 made them bincounts, 10 s faster on the
        # 64,000-user world): the same order of addition, so EM and its classes are unchanged.
        rng = np.random.default_rng(3)
        margins, labels = rng.normal(size=(500, 4)) * 3, rng.integers(0, 2, 500).astype(np.float64)
        owner = np.sort(rng.integers(0, 60, 500))   # users 60-69 have no rows
        expected = np.zeros((70, 4))
        np.add.at(expected, owner, -np.logaddexp(0.0, -(2.0 * labels[:, None] - 1.0) * margins))
        self.assertTrue(np.array_equal(_class_log_likelihoods(margins, labels, owner, 70), expected))

    def test_em_finds_two_groups_of_opposite_taste_without_their_labels(self):
        train = two_groups()
        weights, prior = fit_latent_classes(train, 2)
        self.assertLess(weights[0, 0] * weights[1, 0], 0)        # one class likes axis 0, the other dislikes it
        self.assertGreater(min(abs(weights[0, 0]), abs(weights[1, 0])), 1.0)
        np.testing.assert_allclose(prior, [0.5, 0.5], atol=0.1)

    def test_one_class_is_the_global_regression(self):
        # EM stops when the weights settle too, not only the responsibilities (which never move
        # with one class): one round of its few Newton steps would stop short of the fit, here
        # where one taste separates the labels and the weights are large.
        train = two_groups(seed=4, groups=1)
        self.assertGreater(abs(global_weights(train)[0]), 5.0)
        weights, prior = fit_latent_classes(train, 1)
        np.testing.assert_allclose(weights[0], global_weights(train), atol=1e-4)
        np.testing.assert_allclose(prior, [1.0])

    def test_the_history_chooses_the_class_that_scores_the_candidates(self):
        train = two_groups()
        score = latent_class_scorer(train.vectors, *fit_latent_classes(train, 2))
        order = np.argsort(train.vectors[:, 0])
        high, low = int(order[-1]), int(order[0])
        likes_high = score(np.r_[order[-4:], order[:4]], np.r_[np.ones(4), np.zeros(4)], np.array([high, low]))
        likes_low = score(np.r_[order[-4:], order[:4]], np.r_[np.zeros(4), np.ones(4)], np.array([high, low]))
        self.assertGreater(likes_high[0], likes_high[1])
        self.assertGreater(likes_low[1], likes_low[0])

    def test_the_number_of_classes_is_chosen_on_training_users(self):
        # One class (the global regression) cannot tell the two groups apart: their tastes cancel.
        train = two_groups(users=120)
        k, results = tune_latent_classes(train, grid=(1, 2))
        self.assertEqual(k, 2)
        self.assertGreater(results[2], results[1] + 20)

    def test_a_large_tenant_is_fitted_on_whole_users_up_to_the_row_cap(self):
        train = two_groups(users=50, per_user=12)
        items, labels, owner, users = _rows(train, max_rows=100)
        self.assertEqual(users, 8)                              # 8 whole users of 12 labels, 96 rows
        self.assertEqual(len(items), 96)
        np.testing.assert_array_equal(np.bincount(owner), np.full(8, 12))
        self.assertEqual(len(_rows(train)[0]), 600)


if __name__ == "__main__":
    unittest.main()
