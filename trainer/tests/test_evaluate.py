import unittest
from unittest import mock

import numpy as np
import torch

from trainer import evaluate
from trainer.data import EvalUser, Interaction
from trainer.ensemble import log_odds_scorer
from trainer.evaluate import eval_request, evaluate_per_user, model_scorer, no_history_scorer, score_all
from trainer.model import preference_score
from trainer.tests.test_log_odds_part import stack


def requests_of_many_shapes(items):
    """Requests with histories of 1-4 items and 1-6 candidates, several of each shape."""
    rng = np.random.default_rng(3)
    out = []
    for k in range(40):
        h = 1 + k % 4
        out.append((rng.choice(items, h, replace=False), rng.integers(0, 2, h), np.sort(rng.choice(items, 1 + k % 6, replace=False))))
    return out


class BatchedScorer(unittest.TestCase):
    def setUp(self):
        # Two networks, the regression and every part around them: each must score a batch of
        # users as it scores each one alone.
        self.model, self.vectors = stack()

    def test_many_scores_each_request_as_a_call_of_its_own(self):
        requests = requests_of_many_shapes(len(self.vectors))
        for make in (model_scorer, log_odds_scorer):
            score = make(self.model, self.vectors)
            # Batches of 3 users, so a shape's requests span several batches.
            with mock.patch.object(evaluate, "BATCH_USERS", 3):
                batched = score.many(requests)
            self.assertEqual(len(batched), len(requests))
            for request, row in zip(requests, batched):
                np.testing.assert_allclose(row, score(*request), rtol=1e-5, atol=1e-6)
                self.assertEqual(row.shape, request[2].shape)

    def test_the_no_history_scorer_scores_as_one_masked_slot_whatever_history_is_asked_with(self):
        # Every part around the networks must take a history that is all padding (the API's
        # request for a user with no likes yet) and give finite scores.
        requests = requests_of_many_shapes(len(self.vectors))
        cold = no_history_scorer(self.model, self.vectors)
        table = torch.from_numpy(self.vectors)
        for h_items, h_labels, candidates in requests[:8]:
            row = cold(h_items, h_labels, candidates)
            self.assertTrue(np.isfinite(row).all())
            np.testing.assert_allclose(row, cold(h_items[:1], 1 - h_labels[:1], candidates), rtol=1e-5, atol=1e-6)
            with torch.no_grad():
                logits, _ = self.model(table[:1][None] * 0, torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.bool),
                                       table[torch.from_numpy(candidates)][None])
            np.testing.assert_allclose(row, preference_score(logits)[0].numpy(), rtol=1e-5, atol=1e-6)
        warm = model_scorer(self.model, self.vectors)
        self.assertFalse(all(np.allclose(cold(*r), warm(*r)) for r in requests[:8]))
        with mock.patch.object(evaluate, "BATCH_USERS", 3):
            for request, row in zip(requests, cold.many(requests)):
                np.testing.assert_allclose(row, cold(*request), rtol=1e-5, atol=1e-6)

    def test_score_all_calls_a_scorer_without_many_once_per_request_in_order(self):
        seen = []
        scorer = lambda h, l, c: seen.append(len(c)) or c.astype(float)
        requests = requests_of_many_shapes(len(self.vectors))
        rows = score_all(scorer, requests)
        self.assertEqual(seen, [len(c) for _, _, c in requests])
        for (_, _, c), row in zip(requests, rows):
            np.testing.assert_array_equal(row, c)


class EvaluatePerUser(unittest.TestCase):
    def test_the_batched_and_the_one_by_one_scorer_give_the_same_figures(self):
        model, vectors = stack()
        rng = np.random.default_rng(4)
        users = []
        for k in range(30):
            h = 2 + k % 3
            items = rng.permutation(len(vectors))
            history = [Interaction(int(i), label, 0, line, "") for line, (i, label) in enumerate(zip(items[:h], [1, 0] * h))]
            pairs = [(int(items[h]), int(items[h + 1])), (int(items[h + 2]), int(items[h + 1]))]
            groups = [(int(items[h]), [int(i) for i in items[h + 3:h + 6]])] if k % 2 else []
            users.append(EvalUser(f"u{k}", history, pairs, groups))
        score = model_scorer(model, vectors)
        calls = mock.Mock(side_effect=score.many)
        score.many = calls
        batched = evaluate_per_user(score, users)
        one_by_one = evaluate_per_user(lambda h, l, c: score(h, l, c), users)
        self.assertEqual(calls.call_count, 1)
        self.assertEqual(batched, one_by_one)
        self.assertEqual([r["pairs"] for r in batched], [2] * 30)
        self.assertEqual([len(r["ranks"]) for r in batched], [k % 2 for k in range(30)])

    def test_a_request_asks_for_the_pairs_and_groups_items_in_order(self):
        u = EvalUser("u", [Interaction(7, 1, 0, 1, ""), Interaction(2, 0, 0, 2, "")], [(5, 3), (1, 3)], [(5, [9, 4, 3])])
        h_items, h_labels, candidates = eval_request(u)
        np.testing.assert_array_equal(h_items, [7, 2])
        np.testing.assert_array_equal(h_labels, [1, 0])
        np.testing.assert_array_equal(candidates, [1, 3, 4, 5, 9])
        np.testing.assert_array_equal(eval_request(u, pairs_only=True)[2], [1, 3, 5])


if __name__ == "__main__":
    unittest.main()
