import subprocess
import sys
import unittest

import numpy as np

from trainer.bench_world_ceiling import (GROUP_KINDS, choices, group_kinds, like_probability_scorer, posterior_mode, scorer_rows,
                                         top1_by_kind)
from trainer.data import Dataset, Interaction, eval_users
from trainer.tests.helpers import world_truth


class PosteriorMode(unittest.TestCase):
    def test_no_history_gives_the_prior_mean_and_a_long_one_the_user_s_taste(self):
        rng = np.random.default_rng(0)
        dim, noise = 6, 0.1
        mean = np.zeros(dim)
        w, _ = posterior_mode(np.zeros((0, dim)), np.zeros(0), noise, mean, 0.05)
        np.testing.assert_allclose(w, mean)
        taste = rng.normal(size=dim)
        taste /= np.linalg.norm(taste)
        x = rng.normal(size=(400, dim))
        signs = np.where(rng.random(400) < 1 / (1 + np.exp(-(x @ taste) / noise)), 1.0, -1.0)
        w, _ = posterior_mode(x * signs[:, None], np.zeros(400), noise, mean, 0.05)
        self.assertGreater(w @ taste / np.linalg.norm(w), 0.95)

    def test_the_evidence_prefers_the_group_whose_taste_made_the_labels(self):
        rng = np.random.default_rng(1)
        dim, noise = 6, 0.2
        groups = np.eye(dim)[:2]
        x = rng.normal(size=(12, dim))
        signs = np.where(x @ groups[1] > 0, 1.0, -1.0)
        evidence = [posterior_mode(x * signs[:, None], np.zeros(12), noise, g, 0.02)[1] for g in groups]
        self.assertGreater(evidence[1], evidence[0] + 5)


class Choices(unittest.TestCase):
    def test_a_pair_in_the_history_is_one_choice_and_a_lone_pair_member_is_left_out(self):
        latent = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [3.0, 0.0]])
        truth = world_truth(latent, [0, 0, 0, 0], q=0.25)
        # Item 1 beat item 0 in pair "p"; item 2 is a single dislike; item 3 won pair "r", whose
        # loser is not in the history.
        A, b = choices(truth, [0, 1, 2, 3], [0, 1, 0, 1], ["p", "p", "", "r"])
        np.testing.assert_allclose(A, 0.75 * np.array([[-1.0, 1.0], [-2.0, -2.0]]))
        np.testing.assert_allclose(b, 0.25 * np.array([-1.0, -2.0]))


class LikeProbability(unittest.TestCase):
    def test_across_pairs_an_image_is_judged_against_its_own_style(self):
        # Style 0's images are all good, style 1's all poor. Item 1 is the worst of style 0 and
        # item 2 the best of style 1: its utility is lower, but it wins its pairs more often.
        latent = np.array([[3.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [-3.0, 0.0]])
        truth = world_truth(latent, [0, 0, 1, 1], q=1.0, noise=0.5)
        score = like_probability_scorer(truth, 0.0, lambda h, l: np.zeros(2))
        s = score([], [], np.array([0, 1, 2, 3]))
        self.assertGreater(s[2], s[1])
        self.assertGreater(s[0], s[1])
        self.assertGreater(s[2], s[3])
        # Where every row is a single image, the utility alone orders them.
        s = like_probability_scorer(truth, 1.0, lambda h, l: np.zeros(2))([], [], np.array([0, 1, 2, 3]))
        self.assertEqual(list(np.argsort(-s)), [0, 1, 2, 3])


class BayesLearner(unittest.TestCase):
    def test_an_image_in_two_of_the_history_s_choices_counts_in_both(self):
        # Groups 0 and 1 like axis 0 and axis 1. The test user's first choice (item 1 over item 0)
        # says group 1 firmly; the second (item 0 over item 2), where item 0 appears again, says
        # group 0 mildly. Read together they say group 1, and the target choice (item 3, on axis 1,
        # over item 4, on axis 0) is won; with the first choice lost (pair ids looked up by item,
        # so item 0's second choice overwrote its first) they say group 0 and it is lost.
        latent = np.array([[0.0, 0.0], [-0.5, 2.0], [-0.5, 0.0], [0.0, 1.0], [1.0, 0.0]])
        tastes = {"a": [1.0, 0.0], "b": [0.98, 0.02], "c": [0.0, 1.0], "d": [0.02, 0.98]}
        truth = world_truth(latent, [0] * 5, q=0.0, noise=0.1)
        # The test user's own taste and group are there for the oracles, which this test does not read.
        truth.update(taste={u: np.array(t) for u, t in {**tastes, "t": [0.0, 1.0]}.items()},
                     group={"a": 0, "b": 0, "c": 1, "d": 1, "t": 1})
        ids = [str(i) for i in range(5)]
        train = Dataset("train", latent.astype(np.float32), ids, [""] * 5,
                        {u: [Interaction(3, 1, 0, 1, f"{u}-p"), Interaction(4, 0, 0, 2, f"{u}-p")] for u in tastes})
        choice = lambda win, lose, ts, pair: [Interaction(win, 1, ts, 2 * ts, pair), Interaction(lose, 0, ts, 2 * ts + 1, pair)]
        test = Dataset("test", latent.astype(np.float32), ids, [""] * 5,
                       {"t": choice(1, 0, 1, "p") + choice(0, 2, 2, "r") + choice(3, 4, 3, "s")})
        users = eval_users(test, 2)
        self.assertEqual([r.item for r in users[0].history], [1, 0, 0, 2])
        bayes = scorer_rows(truth, train, users)["the world's model, taste inferred from the history (Bayes: a Gaussian prior per group, the posterior mode)"]
        self.assertEqual((bayes[0]["won"], bayes[0]["pairs"]), (1, 1))


class Top1ByKind(unittest.TestCase):
    def test_each_group_counts_under_what_its_like_is(self):
        # User a: 2 + 2 history, then a single like and a choice's winner among 3 single dislikes
        # and the choice's loser; user b: a choice's winner only.
        def rows(likes, dislikes):
            return ([Interaction(item, 1, t, t, pair) for t, (item, pair) in enumerate(likes)]
                    + [Interaction(item, 0, 10 + t, 10 + t, pair) for t, (item, pair) in enumerate(dislikes)])
        singles = [(k, "") for k in range(10, 14)]
        test = Dataset("", np.zeros((20, 2), np.float32), [str(i) for i in range(20)], [""] * 20, {
            "a": rows([(0, ""), (1, ""), (2, ""), (3, "a-p0")], [(4, ""), (5, ""), (6, "a-p0"), *singles]),
            "b": rows([(0, ""), (1, ""), (7, "b-p0")], [(4, ""), (5, ""), (8, "b-p0"), *singles[:2]]),
        })
        users = eval_users(test, 2)
        kinds = group_kinds(test, users)
        self.assertEqual([[like for like, _ in u.groups] for u in users], [[2, 3], [7]])
        self.assertEqual(kinds, [[GROUP_KINDS[0], GROUP_KINDS[1]], [GROUP_KINDS[1]]])
        by_kind = top1_by_kind([{"ranks": [0, 2]}, {"ranks": [0]}], kinds)
        self.assertEqual(by_kind, {GROUP_KINDS[0]: (1, 100.0), GROUP_KINDS[1]: (2, 50.0)})


class Arguments(unittest.TestCase):
    def test_references_must_be_a_count_of_images(self):
        done = subprocess.run([sys.executable, "-m", "trainer.bench_world_ceiling", "--world", "/nonexistent", "--references", "0"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--references: 0 is not a count of images", done.stderr)


if __name__ == "__main__":
    unittest.main()
