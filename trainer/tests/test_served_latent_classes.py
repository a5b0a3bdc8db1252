import os
import tempfile
import unittest

import numpy as np
import torch

from trainer.baselines import low_rank
from trainer.choice_prior import attach_choice_prior, without_choice_prior
from trainer.co_likes import WithCoLikes, attach_co_likes, without_co_likes
from trainer.data import Dataset, Interaction, eval_users, subset
from trainer.export import load_checkpoint
from trainer.latent_classes import fit_latent_classes, latent_class_scorer
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import NetworkAverage, members_of
from trainer.served_latent_classes import WithLatentClasses, add_latent_classes, attach_latent_classes, without_latent_classes
from trainer.tests.helpers import onnx_metadata, rebuilds_alike, small_network, taste_world, train_small


def groups_world(users=200, items=120, per_user=24, groups=2, seed=0):
    """A Dataset over 6-dimensional vectors: with groups=2, even users like items high on axis 0
    and odd users items low on it, so the global taste cancels and only the group tells; with
    groups=0, every label is a coin flip."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(items, 6)).astype(np.float32)
    rows = {}
    for u in range(users):
        chosen = rng.choice(items, per_user, replace=False)
        like = (vectors[chosen, 0] > 0) == (u % 2 == 0) if groups else rng.random(per_user) < 0.5
        rows[f"u{u:03d}"] = [Interaction(int(i), int(l), 0, k, "") for k, (i, l) in enumerate(zip(chosen, like))]
    return Dataset("", vectors, [f"i{i}" for i in range(items)], [""] * items, rows)


def log_odds(model, history, labels, mask, candidates):
    with torch.no_grad():
        logits, user = model(history, labels, mask, candidates)
    return (logits[..., 0] - logits[..., 1])[0].numpy(), user


class Served(unittest.TestCase):
    def setUp(self):
        self.dataset = groups_world()
        self.weights, self.prior = fit_latent_classes(self.dataset, 2)

    def test_the_served_score_is_the_baseline_times_the_weight_over_the_scaled_model(self):
        inner = small_network()
        model = attach_latent_classes(inner, self.weights, self.prior, 2.5, 0.5)
        reference = latent_class_scorer(self.dataset.vectors, self.weights, self.prior)
        v = torch.from_numpy(self.dataset.vectors)
        h_items, h_labels, candidates = np.array([0, 5, 9, 12]), np.array([1, 0, 1, 0]), np.array([3, 7, 20, 31])
        history, labels = v[h_items][None], torch.from_numpy(h_labels)[None]
        mask = torch.ones_like(labels, dtype=torch.bool)
        served, user = log_odds(model, history, labels, mask, v[candidates][None])
        plain, plain_user = log_odds(inner, history, labels, mask, v[candidates][None])
        np.testing.assert_allclose(served - 0.5 * plain, 2.5 * reference(h_items, h_labels, candidates), atol=1e-4)
        self.assertTrue(torch.equal(user, plain_user))
        # The history decides the class: the opposite history turns the classes' scores round.
        flipped, _ = log_odds(model, history, 1 - labels, mask, v[candidates][None])
        flipped_plain, _ = log_odds(inner, history, 1 - labels, mask, v[candidates][None])
        np.testing.assert_allclose(flipped - 0.5 * flipped_plain, 2.5 * reference(h_items, 1 - h_labels, candidates), atol=1e-4)
        self.assertGreater(np.abs((served - 0.5 * plain) - (flipped - 0.5 * flipped_plain)).max(), 1.0)
        # Padded slots change nothing, whatever they hold.
        padded = torch.cat([history, v[[1, 2]][None]], 1)
        padded_labels = torch.cat([labels, torch.tensor([[1, 1]])], 1)
        padded_mask = torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1)
        np.testing.assert_allclose(log_odds(model, padded, padded_labels, padded_mask, v[candidates][None])[0], served, atol=1e-5)
        # With no history the classes are weighed by their prior alone.
        empty = torch.zeros(1, 1, 6), torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.bool)
        with torch.no_grad():
            alone = model.part_log_odds(*empty, v[candidates][None])[0].numpy()
        np.testing.assert_allclose(alone, reference(np.array([], int), np.array([]), candidates), atol=1e-4)

    def test_attached_over_co_likes_and_two_networks_under_the_choice_prior_saved_loaded_and_stripped(self):
        average = NetworkAverage.of([small_network(0), small_network(1)])
        co = attach_co_likes(average, self.dataset.vectors, np.arange(5), low_rank(np.full((5, 5), 0.3)), 1.5, 0.8)
        classes = attach_latent_classes(co, self.weights, self.prior, 1.2, 0.9)
        model = attach_choice_prior(classes, self.dataset.vectors, np.linspace(1, -1, 7), np.arange(12), 0.8)
        self.assertIsInstance(without_choice_prior(model), WithLatentClasses)
        self.assertIsInstance(without_latent_classes(without_choice_prior(model)), WithCoLikes)
        self.assertIsInstance(without_co_likes(without_latent_classes(without_choice_prior(model))), NetworkAverage)
        self.assertEqual((model.config.latent_class_count, model.config.latent_class_weight, model.config.latent_class_scale), (2, 1.2, 0.9))
        self.assertEqual(len(members_of(model)), 2)
        self.assertTrue(rebuilds_alike(model))
        # Attaching again replaces the classes rather than stacking them.
        again = attach_latent_classes(classes, self.weights[:1], [1.0], 2.0)
        self.assertIs(type(without_latent_classes(again)), WithCoLikes)
        self.assertEqual(again.config.latent_class_count, 1)
        with self.assertRaisesRegex(ValueError, "latent_class_count"):
            PreferenceModel(ModelConfig(latent_class_count=3))
        with self.assertRaisesRegex(ValueError, "latent_class_weight"):
            attach_latent_classes(co, self.weights, self.prior, -1.0)


class Weight(unittest.TestCase):
    def fit(self, **world):
        dataset = groups_world(**world)
        users = sorted(dataset.users)
        model = small_network()
        return model, *add_latent_classes(model, dataset, users[:140], eval_users(subset(dataset, users[140:]), 4), seed=0)

    def test_served_where_the_validation_users_show_they_help(self):
        model, out, record = self.fit()
        self.assertIsInstance(out, WithLatentClasses)
        self.assertGreater(record["weight"], 2 * record["class_standard_error"])
        self.assertEqual((out.config.latent_class_weight, out.config.latent_class_scale), (record["weight"], record["scale"]))
        self.assertGreaterEqual(record["classes"], 2)   # one class cannot tell the groups apart
        self.assertEqual(out.config.latent_class_count, record["classes"])

    def test_not_served_where_the_validation_users_do_not_show_they_help(self):
        # Every label a coin flip: the classes fit noise.
        model, out, record = self.fit(groups=0)
        self.assertIs(out, model)
        self.assertEqual(record["weight"], 0.0)
        self.assertLess(record["class_coefficient"], 2 * record["class_standard_error"])

    def test_not_served_without_validation_users(self):
        dataset = groups_world(users=40)
        model = small_network()
        out, record = add_latent_classes(model, dataset, sorted(dataset.users), [], seed=0)
        self.assertIs(out, model)
        self.assertEqual(record["weight"], 0.0)
        self.assertIn("no validation users", record["selected_by"])


class TrainerAddsTheLatentClasses(unittest.TestCase):
    def test_weighted_on_validation_users_exported_and_refitted_for_fine_tuning(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=200, groups=2, dim=6)

        def run(out, *extra):
            return train_small(root, out, "--n-ref", "4", "--ensemble", "auto", "--latent-classes", "auto", *extra)

        metrics, stdout = run("m")
        classes = metrics["latent_classes"]
        self.assertGreater(classes["weight"], 0.0)
        self.assertIn("latent classes: weight", stdout)
        model, _ = load_checkpoint(os.path.join(root, "m", "ckpt.pt"))
        self.assertIsInstance(model, WithLatentClasses)
        meta = onnx_metadata(os.path.join(root, "m", "model.onnx"))
        self.assertEqual(meta["latent_class_count"], str(classes["classes"]))
        self.assertEqual(float(meta["latent_class_weight"]), classes["weight"])
        self.assertEqual(float(meta["latent_class_scale"]), classes["scale"])
        self.assertEqual(meta["latent_classes"], classes["selected_by"])
        # The validation figure is the served model's, with the classes.
        self.assertGreater(metrics["val_pairwise"], classes["val_pairwise_without"])

        tuned, _ = run("tuned", "--init", os.path.join(root, "m", "ckpt.pt"), "--epochs", "1")
        again, _ = load_checkpoint(os.path.join(root, "tuned", "ckpt.pt"))
        self.assertIsInstance(again, WithLatentClasses)
        self.assertIsNot(type(again.inner), WithLatentClasses)
        self.assertEqual(again.config.latent_class_weight, tuned["latent_classes"]["weight"])


if __name__ == "__main__":
    unittest.main()
