import unittest
import warnings

import numpy as np

from trainer.baselines import (CO_LIKE_DAMPING, CO_LIKE_SHRINK, USER_KNN_DAMPING, USER_KNN_SHRINK, bradley_terry_weights, choice_pairs,
                               co_like_cosines, co_like_scorer, co_like_scorers, co_like_similarities, cross_fitted_sum_rows, fit_logistic,
                               global_scorer, low_rank, similarity_matrix,
                               global_weights, lookalike_centred_scorer, memoized, unrated_caveat, upper_bound_sum, user_knn_part,
                               user_knn_scorer, user_knn_scorers, weighted_parts)
from trainer.data import Dataset, EvalUser, Interaction


class WeightedLogistic(unittest.TestCase):
    def test_a_row_of_weight_zero_counts_as_absent_and_weight_two_as_twice(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(40, 3))
        y = (rng.random(40) < 0.5).astype(float)
        weight = np.r_[np.zeros(10), np.ones(20), np.full(10, 2.0)]
        weighted = fit_logistic(x, y, weight=weight, steps=50)
        dropped_and_doubled = fit_logistic(np.r_[x[10:30], x[30:], x[30:]], np.r_[y[10:30], y[30:], y[30:]], steps=50)
        np.testing.assert_allclose(weighted, dropped_and_doubled, atol=1e-8)
        np.testing.assert_allclose(fit_logistic(x, y, weight=np.ones(40)), fit_logistic(x, y))


def labelled(ids, users):
    """A Dataset of `users` ({user: {item id: label}}) over items `ids` (no vectors to speak of)."""
    rows = {u: [Interaction(ids.index(i), label, 0, k, "") for k, (i, label) in enumerate(items.items())] for u, items in users.items()}
    return Dataset("d", np.zeros((len(ids), 2), np.float32), list(ids), [""] * len(ids), rows)


class CoLikes(unittest.TestCase):
    """Item-based collaborative filtering: items the same users liked and disliked are alike."""

    def setUp(self):
        # a and b: liked by u1-u3, disliked by u4; c: the opposite of a; d: rated once.
        self.train = labelled(["a", "b", "c", "d"], {
            "u1": {"a": 1, "b": 1, "c": 0, "d": 1}, "u2": {"a": 1, "b": 1, "c": 0},
            "u3": {"a": 1, "b": 1, "c": 0}, "u4": {"a": 0, "b": 0, "c": 1}})

    def test_similarity_is_the_cosine_of_the_like_dislike_columns_shrunk_by_the_users_who_rated_both(self):
        index, sim = co_like_similarities(self.train)
        self.assertEqual(sorted(index), ["a", "b", "c"])                   # d was rated once
        shrunk = 4 / (4 + CO_LIKE_SHRINK)
        self.assertAlmostEqual(float(sim[index["a"], index["b"]]), shrunk, places=6)
        self.assertAlmostEqual(float(sim[index["a"], index["c"]]), -shrunk, places=6)
        self.assertEqual(float(sim[index["a"], index["a"]]), 0.0)

    def test_the_similarities_are_the_cosines_at_the_rank_kept(self):
        index, cosines = co_like_cosines(self.train)
        np.testing.assert_allclose(co_like_similarities(self.train, rank=64)[1], cosines, atol=1e-6)   # 3 items: every eigenpair kept
        values, vectors = np.linalg.eigh(cosines.astype(np.float64))
        k = np.argmax(np.abs(values))
        expected = values[k] * np.outer(vectors[:, k], vectors[:, k])
        np.fill_diagonal(expected, 0.0)
        one = co_like_similarities(self.train, rank=1)[1]
        np.testing.assert_allclose(one, expected, atol=1e-6)
        self.assertGreater(np.abs(one - cosines).max(), 0.01)

    def test_low_rank_keeps_the_eigenpairs_of_largest_magnitude_negative_ones_included(self):
        q = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
        matrix = (q * [3.0, -2.0, 0.5, 0.1]) @ q.T
        vectors, values = low_rank(matrix, 2)
        self.assertEqual(sorted(values.round(5).tolist()), [-2.0, 3.0])
        np.testing.assert_allclose((vectors * values) @ vectors.T, (q[:, :2] * [3.0, -2.0]) @ q[:, :2].T, atol=1e-5)
        np.testing.assert_allclose(similarity_matrix(*low_rank(matrix, 4)), matrix - np.diag(np.diag(matrix)), atol=1e-5)

    def test_a_candidate_scores_by_the_history_items_it_is_like(self):
        test = labelled(["c", "b", "new"], {"t": {}})
        score = co_like_scorer(co_like_similarities(self.train), test.item_ids)
        s = 4 / (4 + CO_LIKE_SHRINK)
        # History: c liked. b is unlike c (-s), so it scores -s / (s + damping); a new item 0.
        np.testing.assert_allclose(score(np.array([0]), np.array([1]), np.array([1, 2])), [-s / (s + CO_LIKE_DAMPING), 0.0])
        # The same history disliked: b scores as much the other way.
        np.testing.assert_allclose(score(np.array([0]), np.array([0]), np.array([1])), [s / (s + CO_LIKE_DAMPING)])

    def test_no_rows_where_no_item_was_rated_twice(self):
        once = labelled(["a", "b"], {"u1": {"a": 1}, "u2": {"b": 0}})
        self.assertEqual(co_like_scorers(once, once, [], None), {})

    def test_memoized_answers_each_question_once(self):
        calls = []
        score = memoized(lambda h, l, c: calls.append(1) or c * 2.0)
        for _ in range(3):
            np.testing.assert_array_equal(score(np.array([1]), np.array([1]), np.array([3, 4])), [6.0, 8.0])
        self.assertEqual(len(calls), 1)


class UserKnn(unittest.TestCase):
    """User-based collaborative filtering: the training users who agree with the history vote."""

    def test_each_training_user_votes_by_their_agreement_with_the_history(self):
        # u1 and u2 liked a and b; u3 disliked them and liked c. The history: a liked.
        train = labelled(["a", "b", "c"], {"u1": {"a": 1, "b": 1}, "u2": {"a": 1, "b": 1}, "u3": {"a": 0, "b": 0, "c": 1}})
        test = labelled(["a", "b", "c", "new"], {"t": {}})
        score = user_knn_scorer(train, test.item_ids, 3)
        s = 1 / (1 + USER_KNN_SHRINK)                       # one shared item each: similarity ±s
        # b: u1 and u2 (+s) vote +1, u3 (-s) votes -1, so all three say "like".
        # c: only u3 rated it, liked, and u3 disagrees with the history. A new item: no vote.
        np.testing.assert_allclose(score(np.array([0]), np.array([1]), np.array([1, 2, 3])),
                                   [3 * s / (3 * s + USER_KNN_DAMPING), -s / (s + USER_KNN_DAMPING), 0.0])

    def test_only_the_most_alike_users_vote(self):
        # History: a and b liked. u1 agrees on both (similarity 2/2 x 2/(2+shrink)); u2 on a only,
        # of the two (1/sqrt(2) x 1/(1+shrink)); they disagree about c.
        train = labelled(["a", "b", "c"], {"u1": {"a": 1, "b": 1, "c": 1}, "u2": {"a": 1, "c": 0}})
        h, labels, c = np.array([0, 1]), np.array([1, 1]), np.array([2])
        s1, s2 = 2 / (2 + USER_KNN_SHRINK), 1 / np.sqrt(2) / (1 + USER_KNN_SHRINK)
        np.testing.assert_allclose(user_knn_scorer(train, train.item_ids, 1)(h, labels, c), [s1 / (s1 + USER_KNN_DAMPING)])
        np.testing.assert_allclose(user_knn_scorer(train, train.item_ids, 2)(h, labels, c), [(s1 - s2) / (s1 + s2 + USER_KNN_DAMPING)])

    def test_no_rows_where_no_test_item_was_rated_in_training(self):
        train = labelled(["a", "b"], {"u1": {"a": 1, "b": 0}})
        test = labelled(["x", "y"], {"t": {"x": 1, "y": 0}})
        self.assertIsNone(user_knn_part(train, test))
        self.assertEqual(user_knn_scorers(train, test, [], None), {})


def constant(values):
    return lambda h_items, h_labels, candidates: np.array(values, float)[candidates]


class SummedBaselines(unittest.TestCase):
    """The summed baselines: the regression and the rate plus weighted parts, the regression's
    shrink chosen with the weights."""

    def setUp(self):
        # With two pulls in a grid every choice is at an edge: the warning is asserted once and
        # silenced elsewhere.
        quiet = warnings.catch_warnings()
        quiet.__enter__()
        self.addCleanup(quiet.__exit__, None, None, None)
        warnings.filterwarnings("ignore", "upper_bound_sum", UserWarning)

    def test_a_weighted_sum_adds_each_part_times_its_weight_and_reads_none_at_zero(self):
        base, part, never = constant([0.2, 0.4, -0.6]), constant([-0.5, 0.25, 1.0]), constant([float("nan")] * 3)
        np.testing.assert_allclose(weighted_parts(base, [(4.0, part), (0.0, never), (0.0, None)])([], [], np.array([2, 0])),
                                   [-0.6 + 4.0, 0.2 - 2.0])

    def test_the_shrink_is_chosen_with_the_weights_not_for_the_regression_alone(self):
        # Alone the regression is best at shrink 1 (2 pairs of 3 against 1); with the part at
        # weight 1 the sum is best at shrink 10 (3 of 3; at shrink 1 it still wins 2).
        user = EvalUser("t", [], [(0, 1), (2, 3), (4, 5)], [])
        regression_and_rate = {1.0: constant([1, 0, 0, 1, 1, 0]), 10.0: constant([1, 0, 0, 0.5, 0, 1])}
        part = constant([0, 0, 1, 0, 1.5, 0])
        with self.assertWarnsRegex(UserWarning, "at the edge of the grid"):
            self.assertEqual(upper_bound_sum([user], regression_and_rate)[0], (1.0,))
        chosen, summed = upper_bound_sum([user], regression_and_rate, [(part, (0.0, 1.0))])
        self.assertEqual(chosen, (10.0, 1.0))
        np.testing.assert_allclose(summed([], [], np.arange(6)), [1, 0, 1, 0.5, 1.5, 1])
        # A part the tenant lacks is tried at 0 only.
        self.assertEqual(upper_bound_sum([user], regression_and_rate, [(None, (1.0, 2.0))])[0], (1.0, 0.0))

    def test_the_cross_fitted_sum_scores_each_half_by_the_choice_made_on_the_other(self):
        # Shrink 1 is right for users 0 and 2 (item 0 liked), shrink 10 for users 1 and 3 (item 1
        # liked). On its own users each half would choose its own shrink and win every pair;
        # scored by the other half's choice, every pair is lost.
        users = [EvalUser(str(k), [], [(k % 2, 1 - k % 2)], []) for k in range(4)]
        regression_and_rate = {1.0: constant([1.0, 0.0]), 10.0: constant([0.0, 1.0])}
        rows, chosen = cross_fitted_sum_rows(users, regression_and_rate, [])
        self.assertEqual(chosen, [(10.0,), (1.0,)])
        self.assertEqual([r["user"] for r in rows], ["0", "1", "2", "3"])
        self.assertEqual([r["won"] for r in rows], [0, 0, 0, 0])


class ItemRates(unittest.TestCase):
    def test_a_rate_row_says_why_it_scores_zero_where_no_test_item_was_rated_in_training(self):
        test = Dataset("test", np.zeros((3, 2), np.float32), ["a", "b", "c"], ["", "", ""],
                       {"u": [Interaction(1, 1, 0, 1, "p"), Interaction(2, 0, 0, 2, "p")]})
        self.assertIn("every score ties", unrated_caveat({"a": (3, 1)}, test))   # "a" is in no test user's history
        self.assertEqual(unrated_caveat({"c": (0, 2)}, test), "")


class PairwiseGlobalPreference(unittest.TestCase):
    @staticmethod
    def _choices_world(seed):
        """Two styles far apart on axis 0; every choice is between two images of one style, won by
        the one higher on w = (1, 1, 0). Within each style half the labels are likes, so a
        regression on single labels cannot see axis 0's part of the taste; one on the choices can."""
        rng = np.random.default_rng(seed)
        w = np.array([1.0, 1.0, 0.0])
        vectors, users = [], {}
        for u in range(40):
            rows = []
            for k in range(20):
                center = np.array([4.0 if k % 2 else -4.0, 0.0, 0.0])
                a, b = center + rng.normal(size=3), center + rng.normal(size=3)
                a_wins = (a - b) @ w > 0
                i = len(vectors)
                vectors += [a, b]
                rows += [Interaction(i, int(a_wins), k, 2 * k, f"u{u}-p{k}"), Interaction(i + 1, int(not a_wins), k, 2 * k + 1, f"u{u}-p{k}")]
            users[f"u{u}"] = rows
        n = len(vectors)
        return Dataset("choices", np.array(vectors, np.float32), [str(i) for i in range(n)], [""] * n, users), w

    def test_it_learns_the_taste_a_choice_reveals_where_single_labels_cannot(self):
        train, w = self._choices_world(0)
        test, _ = self._choices_world(1)
        bt, pointwise = bradley_terry_weights(train), global_weights(train)
        self.assertEqual(bt[-1], 0.0)
        self.assertGreater(bt[:3] @ w / np.linalg.norm(bt[:3]) / np.linalg.norm(w), 0.95)
        pairs = choice_pairs(test)
        d = test.vectors[pairs[:, 0]] - test.vectors[pairs[:, 1]]
        bt_accuracy, pointwise_accuracy = np.mean(d @ bt[:3] > 0), np.mean(d @ pointwise[:3] > 0)
        self.assertGreater(bt_accuracy, 0.9)
        self.assertGreater(bt_accuracy, pointwise_accuracy + 0.05)

    def test_only_whole_choices_count_and_a_tenant_without_choices_has_none(self):
        rows = [Interaction(0, 1, 0, 1, "p"), Interaction(1, 0, 0, 2, "p"),    # a whole choice
                Interaction(2, 1, 0, 3, "q"),                                  # its loser is missing
                Interaction(3, 0, 0, 4, "")]                                   # a single image
        data = Dataset("d", np.eye(4, dtype=np.float32), list("abcd"), [""] * 4, {"u": rows})
        self.assertEqual(choice_pairs(data).tolist(), [[0, 1]])
        no_choices = Dataset("d", np.eye(4, dtype=np.float32), list("abcd"), [""] * 4, {"u": [rows[3]]})
        self.assertIsNone(bradley_terry_weights(no_choices))

    def test_judged_against_look_alikes_a_poor_style_s_best_image_outranks_a_good_style_s_worst(self):
        # Two styles far apart on axis 0; the score w favours style +8 by about 16 on average.
        rng = np.random.default_rng(2)
        vectors = np.vstack([np.array([8.0, 0, 0]) + rng.normal(size=(60, 3)),
                             np.array([-8.0, 0, 0]) + rng.normal(size=(60, 3))]).astype(np.float32)
        w = np.array([1.0, 1.0, 0.0, 0.0])
        plain = global_scorer(vectors, w)(None, None, np.arange(120))
        centred_scorer = lookalike_centred_scorer(vectors, w, k=20)
        centred = centred_scorer(None, None, np.arange(120))
        self.assertGreater(plain[:60].mean() - plain[60:].mean(), 12)
        self.assertLess(abs(centred[:60].mean() - centred[60:].mean()), 1)
        good_worst, poor_best = int(np.argmin(plain[:60])), 60 + int(np.argmax(plain[60:]))
        self.assertGreater(centred[poor_best], centred[good_worst])
        self.assertLess(plain[poor_best], plain[good_worst])
        # Asked again, in another order and with repeats, the same scores.
        again = centred_scorer(None, None, np.array([poor_best, 3, poor_best]))
        np.testing.assert_allclose(again, centred[[poor_best, 3, poor_best]])

