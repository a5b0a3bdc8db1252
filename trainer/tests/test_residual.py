import os
import tempfile
import unittest

import numpy as np

from trainer import baselines
from trainer.co_likes import WithCoLikes
from trainer.data import read_dataset, sample_episode, subset
from trainer.export import load_checkpoint
from trainer.item_rates import WithItemRates, served_rate
from trainer.residual import CrowdOffsets
from trainer.tests.helpers import onnx_metadata, train_small, trainer_refusing
from trainer.tests.test_co_likes import co_like_world


class CountedWithoutTheUser(unittest.TestCase):
    """An episode's terms are what the crowd says to a user it never counted: the same as counting
    every other training user and scoring the episode as a new user's."""

    def setUp(self):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"), users=60, items=30)
        self.dataset = read_dataset(os.path.join(root, "data"))
        self.users = sorted(self.dataset.users)
        self.crowd = CrowdOffsets(self.dataset, self.users, seed=0)

    def episode_of(self, user, seed=0):
        e = sample_episode(self.dataset.users[user], np.random.default_rng(seed), 8, 8)
        self.assertIsNotNone(e)
        return e, np.concatenate([e.pos, e.neg])

    def test_the_co_likes_are_those_of_the_other_users(self):
        for user in self.users[:5]:
            e, targets = self.episode_of(user)
            _, co = self.crowd.terms(user, e.history_items, e.history_labels, targets)
            others = [u for u in self.users if u != user]
            scorer = baselines.co_like_scorer(baselines.co_like_similarities(subset(self.dataset, others)), self.dataset.item_ids)
            np.testing.assert_allclose(co, scorer(e.history_items, e.history_labels, targets), atol=1e-6)
            # With the user counted, the terms differ: the test can tell.
            with_user = baselines.co_like_scorer(baselines.co_like_similarities(subset(self.dataset, self.users)), self.dataset.item_ids)
            self.assertGreater(np.abs(co - with_user(e.history_items, e.history_labels, targets)).max(), 1e-3)

    def test_the_rate_leaves_out_the_users_own_labels(self):
        user = self.users[0]
        e, targets = self.episode_of(user)
        rate, _ = self.crowd.terms(user, e.history_items, e.history_labels, targets)
        counts = baselines.item_like_counts(subset(self.dataset, [u for u in self.users if u != user]))
        likes = np.array([counts.get(self.dataset.item_ids[t], (0, 0))[0] for t in targets])
        dislikes = np.array([counts.get(self.dataset.item_ids[t], (0, 0))[1] for t in targets])
        np.testing.assert_allclose(rate, served_rate(likes, dislikes, self.crowd.prior_count, self.crowd.share), atol=1e-9)
        # A liked target's rate would be higher with the user's own like in it.
        liked = served_rate(likes[:len(e.pos)] + 1, dislikes[:len(e.pos)], self.crowd.prior_count, self.crowd.share)
        self.assertTrue((liked > rate[:len(e.pos)]).all())

    def test_each_episodes_terms_are_its_targets_padded(self):
        user = self.users[1]
        e, targets = self.episode_of(user)
        rate, co = self.crowd.terms(user, e.history_items, e.history_labels, targets)
        out = self.crowd.episode_terms([e], [user], pairs=len(e.pos) + 2)
        p = len(e.pos)
        for k, term in enumerate((rate, co)):
            np.testing.assert_allclose(out[k, 0, :p], term[:p], rtol=1e-6)
            np.testing.assert_allclose(out[k, 0, p + 2:2 * p + 2], term[p:], rtol=1e-6)
            self.assertEqual(out[k, 0, p:p + 2].tolist() + out[k, 0, 2 * p + 2:].tolist(), [0.0] * 4)

    def test_the_weights_are_positive_where_the_crowd_tells_likes(self):
        fit_on = [(self.episode_of(u)[0], u) for u in self.users]
        rate_weight, co_weight = self.crowd.fit_weights([e for e, _ in fit_on], [u for _, u in fit_on])
        # In this world who rated what alike is nearly all there is (labels follow the group's items).
        self.assertGreater(co_weight, 1.0)
        self.assertGreaterEqual(rate_weight, 0.0)


class TrainerTrainsOverTheCrowd(unittest.TestCase):
    def test_served_at_the_trained_weights_and_exported(self):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"), users=200)
        metrics, stdout = train_small(root, "m", "--n-ref", "4", "--residual", "--ensemble", "auto")
        residual = metrics["residual"]
        self.assertIn("residual: the network trains over", stdout)
        self.assertGreater(residual["co_like_weight"], 0.0)
        model, _ = load_checkpoint(os.path.join(root, "m", "ckpt.pt"))
        self.assertIsInstance(model, WithCoLikes)
        self.assertEqual((model.config.co_like_weight, model.config.co_like_scale), (residual["co_like_weight"], 1.0))
        if residual["rate_weight"]:
            self.assertIsInstance(model.inner, WithItemRates)
            self.assertEqual(model.config.item_rate_weight, residual["rate_weight"])
        meta = onnx_metadata(os.path.join(root, "m", "model.onnx"))
        self.assertEqual(float(meta["co_like_weight"]), residual["co_like_weight"])

    def test_refused_beside_the_rates_or_the_co_likes_fitted_after_training(self):
        for flag in ("--item-rates", "--co-likes"):
            done = trainer_refusing("--residual", flag, "auto")
            self.assertEqual(done.returncode, 2)
            self.assertIn("--residual", done.stderr)


if __name__ == "__main__":
    unittest.main()
