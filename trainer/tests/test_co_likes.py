import dataclasses
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from trainer import baselines
from trainer.choice_prior import attach_choice_prior, without_choice_prior
from trainer.co_likes import WithCoLikes, add_co_likes, attach_co_likes, remembered_similarities, without_co_likes
from trainer.data import eval_users, read_dataset, subset
from trainer.ensemble import attach_regression
from trainer.export import export_onnx, load_checkpoint
from trainer.item_rates import WithItemRates, attach_item_rates, remembered_items
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import NetworkAverage, build_model, members_of
from trainer.tests.helpers import onnx_metadata, train_small, rebuilds_alike, small_network, write_dataset


def co_like_world(path, users=160, items=40, groups=2, per_user=24, noise=0.1, seed=0):
    """A catalogue whose users' tastes are by item, not by vector: each of `groups` groups likes a
    random half of the items, each user is in one and rates `per_user` random items as the group
    does (a `noise` share flipped). The vectors are random, so only who rated what alike says
    which items go together. With groups=0 every user flips a coin for every item."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(items, 6)).astype(np.float32)
    tastes = rng.random((max(groups, 1), items)) < 0.5
    rows = []
    for u in range(users):
        for t, item in enumerate(rng.choice(items, size=per_user, replace=False)):
            liked = tastes[u % groups, item] != (rng.random() < noise) if groups else rng.random() < 0.5
            rows.append([f"u{u}", f"i{item}", int(liked), t, ""])
    write_dataset(path, vectors, [f"i{k}" for k in range(items)], rows)


def co_log_odds(model, history, labels, mask, candidates):
    with torch.no_grad():
        logits, user = model(history, labels, mask, candidates)
    return (logits[..., 0] - logits[..., 1])[0].numpy(), user


class Served(unittest.TestCase):
    def setUp(self):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"))
        self.dataset = read_dataset(os.path.join(root, "data"))
        self.rows, self.factors = remembered_similarities(self.dataset, sorted(self.dataset.users))

    def test_the_served_score_is_the_co_likes_baseline_times_the_weight_over_the_scaled_model(self):
        inner = small_network()
        model = attach_co_likes(inner, self.dataset.vectors, self.rows, self.factors, 2.5, 0.5)
        # What is served is the baseline, its similarities at the rank both keep (baselines.CO_LIKE_RANK).
        reference = baselines.co_like_scorer(baselines.co_like_similarities(self.dataset, rank=baselines.CO_LIKE_RANK), self.dataset.item_ids)
        v = torch.from_numpy(self.dataset.vectors)
        h_items, h_labels, candidates = np.array([0, 5, 9, 12]), np.array([1, 0, 1, 0]), np.array([3, 7, 20, 31])
        history, labels = v[h_items][None], torch.from_numpy(h_labels)[None]
        mask = torch.ones_like(labels, dtype=torch.bool)
        served, user = co_log_odds(model, history, labels, mask, v[candidates][None])
        plain, plain_user = co_log_odds(inner, history, labels, mask, v[candidates][None])
        np.testing.assert_allclose(served - 0.5 * plain, 2.5 * reference(h_items, h_labels, candidates), atol=1e-5)
        self.assertTrue(torch.equal(user, plain_user))
        # Padded slots change nothing, whatever they hold: here items the model remembers, which
        # would count if the mask were not read.
        padded = torch.cat([history, v[[1, 2]][None]], 1)
        padded_labels = torch.cat([labels, torch.tensor([[1, 1]])], 1)
        padded_mask = torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1)
        np.testing.assert_allclose(co_log_odds(model, padded, padded_labels, padded_mask, v[candidates][None])[0], served, atol=1e-5)
        # An image the model never saw, in the history or among the candidates, adds nothing.
        new = torch.randn(1, 1, 6)
        with torch.no_grad():
            self.assertEqual(float(model.part_log_odds(history, labels, mask, new)[0, 0]), 0.0)
            alone = model.part_log_odds(history[:, :1], labels[:, :1], mask[:, :1], v[candidates][None])
            with_new = model.part_log_odds(torch.cat([history[:, :1], new], 1), torch.tensor([[1, 1]]), torch.ones(1, 2, dtype=torch.bool),
                                      v[candidates][None])
        np.testing.assert_allclose(with_new.numpy(), alone.numpy(), atol=1e-6)

    def test_at_a_rank_below_the_items_the_served_score_is_the_baseline_at_that_rank(self):
        vectors, values = baselines.low_rank(baselines.co_like_cosines(self.dataset)[1], 3)
        model = attach_co_likes(small_network(), self.dataset.vectors, self.rows, (vectors, values), 1.0, 0.0)
        self.assertEqual((model.config.co_like_rank, tuple(model.similarity_vectors.shape)), (3, (len(self.rows), 3)))
        index, _ = baselines.co_like_similarities(self.dataset)
        reference = baselines.co_like_scorer((index, baselines.similarity_matrix(vectors, values)), self.dataset.item_ids)
        v = torch.from_numpy(self.dataset.vectors)
        h_items, h_labels, candidates = np.array([0, 5, 9, 12]), np.array([1, 0, 1, 0]), np.array([3, 7, 20, 31])
        served, _ = co_log_odds(model, v[h_items][None], torch.from_numpy(h_labels)[None], torch.ones(1, 4, dtype=torch.bool),
                                v[candidates][None])
        np.testing.assert_allclose(served, reference(h_items, h_labels, candidates), atol=1e-5)
        # An item among the candidates that is also in the history is not its own co-like.
        again, _ = co_log_odds(model, v[h_items][None], torch.from_numpy(h_labels)[None], torch.ones(1, 4, dtype=torch.bool),
                               v[h_items[:1]][None])
        np.testing.assert_allclose(again, reference(h_items, h_labels, h_items[:1]), atol=1e-5)

    def test_the_rates_and_the_co_likes_remember_the_same_items_kept_once_in_the_file(self):
        rate_rows, log_odds = remembered_items(self.dataset, baselines.item_like_counts(self.dataset), 1.0)
        np.testing.assert_array_equal(rate_rows, self.rows)
        rated = attach_item_rates(small_network(), self.dataset.vectors, rate_rows, log_odds, 0.5)
        model = attach_co_likes(rated, self.dataset.vectors, self.rows, self.factors, 1.0, 0.8)
        path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        export_onnx(model, path, {"embedding_dim": 6, "preference_tokens": 3, "model_version": "t", "trained_at": "t", "eval_pairwise": ""})
        shapes = [tuple(t.dims) for t in onnx.load(path).graph.initializer]
        self.assertEqual(shapes.count((len(self.rows), 6)), 1)

    def test_a_checkpoint_that_kept_the_whole_matrix_scores_as_it_did(self):
        # Before session 51 the co-likes kept every similarity, float16, as the buffer "similarities",
        # and their config no co_like_rank: such a checkpoint loads and scores as it did.
        index, cosines = baselines.co_like_cosines(self.dataset)
        model = attach_co_likes(small_network(), self.dataset.vectors, self.rows, baselines.low_rank(cosines, 1), 1.0, 0.0)
        old = {k: v for k, v in model.state_dict().items() if not k.startswith("similarity_")}
        old["similarities"] = torch.from_numpy(cosines).half()
        loaded = build_model(dataclasses.replace(model.config, co_like_rank=0))
        loaded.load_state_dict(old)
        self.assertEqual(tuple(loaded.similarity_vectors.shape), (len(self.rows), len(self.rows)))
        reference = baselines.co_like_scorer((index, cosines.astype(np.float16).astype(np.float32)), self.dataset.item_ids)
        v = torch.from_numpy(self.dataset.vectors)
        h_items, h_labels, candidates = np.array([0, 5, 9, 12]), np.array([1, 0, 1, 0]), np.array([3, 7, 20, 31])
        served, _ = co_log_odds(loaded.eval(), v[h_items][None], torch.from_numpy(h_labels)[None], torch.ones(1, 4, dtype=torch.bool),
                                v[candidates][None])
        np.testing.assert_allclose(served, reference(h_items, h_labels, candidates), atol=1e-4)

    def test_attached_over_item_rates_and_two_networks_under_the_choice_prior_saved_loaded_and_stripped(self):
        average = attach_regression(NetworkAverage.of([small_network(0), small_network(1)]), np.linspace(-1, 1, 7), 1.0, 0.5)
        rated = attach_item_rates(average, self.dataset.vectors, [2, 4], np.array([1.0, -1.0]), 0.7)
        co = attach_co_likes(rated, self.dataset.vectors, self.rows, self.factors, 1.5, 0.8)
        model = attach_choice_prior(co, self.dataset.vectors, np.linspace(1, -1, 7), np.arange(12), 0.8)
        self.assertIsInstance(without_choice_prior(model), WithCoLikes)
        self.assertIsInstance(without_co_likes(without_choice_prior(model)), WithItemRates)
        self.assertEqual((model.config.co_like_memory, model.config.co_like_weight, model.config.co_like_scale), (len(self.rows), 1.5, 0.8))
        self.assertEqual(len(members_of(model)), 2)
        self.assertTrue(rebuilds_alike(model))
        # Attaching again replaces the co-likes rather than stacking them.
        vectors, values = self.factors
        again = attach_co_likes(co, self.dataset.vectors, self.rows[:5], (vectors[:5], values), 2.0)
        self.assertIs(type(without_co_likes(again)), WithItemRates)
        self.assertEqual(again.config.co_like_memory, 5)
        with self.assertRaisesRegex(ValueError, "co_like_memory"):
            PreferenceModel(ModelConfig(co_like_memory=3))


class Weight(unittest.TestCase):
    def fit(self, **world):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"), **world)
        dataset = read_dataset(os.path.join(root, "data"))
        users = sorted(dataset.users)
        model = small_network()
        return model, *add_co_likes(model, dataset, users[:120], eval_users(subset(dataset, users[120:]), 4))

    def test_served_where_the_validation_users_show_it_helps(self):
        model, out, record = self.fit()
        self.assertIsInstance(out, WithCoLikes)
        self.assertGreater(record["weight"], 2 * record["co_like_standard_error"])
        self.assertEqual((out.config.co_like_weight, out.config.co_like_scale), (record["weight"], record["scale"]))
        self.assertEqual(record["items"], 40)

    def test_not_served_where_the_validation_users_do_not_show_it_helps(self):
        # Every label a coin flip: who rated what alike is noise.
        model, out, record = self.fit(groups=0)
        self.assertIs(out, model)
        self.assertEqual(record["weight"], 0.0)
        self.assertLess(record["co_like_coefficient"], 2 * record["co_like_standard_error"])

    def test_none_where_no_item_was_rated_twice(self):
        root = tempfile.mkdtemp()
        rows = [[f"u{u}", f"i{2 * u + k}", k, k, ""] for u in range(5) for k in range(2)]
        write_dataset(os.path.join(root, "once"), np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32),
                      [f"i{k}" for k in range(10)], rows)
        once = read_dataset(os.path.join(root, "once"))
        model = small_network()
        out, record = add_co_likes(model, once, sorted(once.users), [])
        self.assertIs(out, model)
        self.assertEqual((record["items"], record["weight"]), (0, 0.0))


class TrainerAddsTheCoLikes(unittest.TestCase):
    def test_weighted_on_validation_users_exported_and_stripped_for_fine_tuning(self):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"), users=200)

        def run(out, *extra):
            return train_small(root, out, "--n-ref", "4", "--ensemble", "auto", "--item-rates", "auto", "--co-likes", "auto", *extra)

        metrics, stdout = run("m")
        co = metrics["co_likes"]
        self.assertGreater(co["weight"], 0.0)
        self.assertIn("co-likes: weight", stdout)
        model, _ = load_checkpoint(os.path.join(root, "m", "ckpt.pt"))
        self.assertIsInstance(model, WithCoLikes)
        meta = onnx_metadata(os.path.join(root, "m", "model.onnx"))
        self.assertEqual(meta["co_like_memory"], str(co["items"]))
        self.assertEqual(float(meta["co_like_weight"]), co["weight"])
        self.assertEqual(float(meta["co_like_scale"]), co["scale"])
        self.assertEqual(meta["co_likes"], co["selected_by"])
        # The validation figure is the served model's, with the co-likes.
        self.assertGreater(metrics["val_pairwise"], co["val_pairwise_without"])

        tuned, _ = run("tuned", "--init", os.path.join(root, "m", "ckpt.pt"), "--epochs", "1")
        again, _ = load_checkpoint(os.path.join(root, "tuned", "ckpt.pt"))
        self.assertIsInstance(again, WithCoLikes)
        self.assertIsNot(type(again.inner), WithCoLikes)
        self.assertEqual(again.config.co_like_weight, tuned["co_likes"]["weight"])


if __name__ == "__main__":
    unittest.main()
