import os
import tempfile
import unittest

import numpy as np
import torch

from trainer import baselines
from trainer.data import read_dataset, subset
from trainer.ensemble import attach_regression
from trainer.export import load_checkpoint
from trainer.item_rates import WithItemRates, attach_item_rates, rate_weight_beyond_vectors, remembered_items, without_item_rates
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import NetworkAverage, members_of
from trainer.tests.helpers import onnx_metadata, train_small, rebuilds_alike, small_network, write_dataset

network = small_network


def popularity_world(path, users=80, items=60, dim=6, per_user=30, seed=0, hidden_quality=True, user_bias=0.0):
    """Each item has a quality, and each user a taste over the vectors: a user likes an item with
    probability sigmoid(quality + taste . vector). With `hidden_quality` the vector does not show
    the quality (only the item's like rate tells it); without, the quality is a multiple of the
    vector's first coordinate, so a logistic regression on the vector knows all the rate knows.
    With `user_bias`, each user also likes more or less of everything (a bias of that spread)."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(items, dim)).astype(np.float32)
    quality = 2.0 * rng.normal(size=items)
    if not hidden_quality:
        vectors[:, 0] = quality / 2.0
    ids = [f"i{k}" for k in range(items)]
    rows = []
    for u in range(users):
        taste = 0.5 * rng.normal(size=dim)
        bias = user_bias * rng.normal() if user_bias else 0.0   # drawn only when asked: the other worlds stay as they were
        for t, k in enumerate(rng.choice(items, size=per_user, replace=False)):
            rows.append([f"u{u}", ids[k], int(rng.random() < 1.0 / (1.0 + np.exp(-(bias + quality[k] + vectors[k] @ taste)))), t, ""])
    write_dataset(path, vectors, ids, rows)


def weight_of(dataset):
    """rate_weight_beyond_vectors over all of `dataset`'s users at 3 pseudo-counts."""
    users = list(dataset.users)
    return rate_weight_beyond_vectors(dataset, users, baselines.item_like_counts(dataset), 3.0)


class Offsets(unittest.TestCase):
    def test_a_remembered_candidate_gets_weight_times_its_rate_and_any_other_nothing(self):
        inner = network()
        g = torch.Generator().manual_seed(1)
        history, labels = torch.randn(2, 5, 6, generator=g), torch.randint(0, 2, (2, 5), generator=g)
        mask, candidates = torch.ones(2, 5, dtype=torch.bool), torch.randn(2, 4, 6, generator=g)
        memory = np.concatenate([candidates[0, 1:2].numpy(), candidates[1, 3:4].numpy(), np.ones((1, 6), np.float32)])
        model = attach_item_rates(inner, memory, [0, 1, 2], np.array([1.5, -2.0, 9.0]), 0.5)
        with torch.no_grad():
            logits, user = model(history, labels, mask, candidates)
            plain, plain_user = inner(history, labels, mask, candidates)
        added = (logits[..., 0] - logits[..., 1]) - (plain[..., 0] - plain[..., 1])
        expected = torch.zeros(2, 4)
        expected[0, 1], expected[1, 3] = 0.75, -1.0
        self.assertTrue(torch.allclose(added, expected, atol=1e-5), added)
        self.assertTrue(torch.equal(user, plain_user))
        # A vector a hair away from a remembered one (as float32 round-off leaves it) still matches.
        near = candidates.clone()
        near[0, 1] += 1e-6
        with torch.no_grad():
            self.assertAlmostEqual(float(model.item_log_odds(near)[0, 1]), 1.5, places=5)

    def test_attached_to_an_ensemble_of_two_networks_saved_and_loaded_and_stripped(self):
        average = attach_regression(NetworkAverage.of([network(0), network(1)]), np.linspace(-1, 1, 7), 1.0, 0.5)
        model = attach_item_rates(average, np.eye(6, dtype=np.float32), [2, 4], np.array([1.0, -1.0]), 0.7)
        self.assertIsInstance(model, WithItemRates)
        self.assertEqual((model.config.item_memory, model.config.item_rate_weight, model.config.networks), (2, 0.7, 2))
        self.assertEqual(len(members_of(model)), 2)
        self.assertTrue(rebuilds_alike(model))
        # Attaching again replaces the rates rather than stacking them.
        again = attach_item_rates(model, np.eye(6, dtype=np.float32), [2], np.array([3.0]), 1.0)
        self.assertIs(type(without_item_rates(again)), NetworkAverage)
        self.assertEqual(again.config.item_memory, 1)
        with self.assertRaisesRegex(ValueError, "item_memory"):
            PreferenceModel(ModelConfig(item_memory=3))


class Rates(unittest.TestCase):
    def test_remembered_items_count_only_the_given_users_and_keep_the_most_rated(self):
        root = tempfile.mkdtemp()
        ids = ["a", "b", "c", "d"]
        rows = [["u1", "a", 1, 0, ""], ["u1", "b", 0, 1, ""], ["u2", "a", 1, 0, ""], ["u2", "c", 1, 1, ""],
                ["u3", "a", 0, 0, ""], ["u3", "b", 0, 1, ""], ["u9", "d", 1, 0, ""], ["u9", "d", 1, 1, ""]]
        write_dataset(root, np.eye(4, dtype=np.float32), ids, rows)
        dataset = read_dataset(root)
        counts = baselines.item_like_counts(subset(dataset, ["u1", "u2", "u3"]))
        items, log_odds = remembered_items(dataset, counts, prior_count=1.0, max_items=2)
        self.assertEqual(items.tolist(), [0, 1])            # a (3 ratings), b (2); d only by u9, who is left out
        share = 3 / 6
        centre = np.log(share / (1 - share))
        expected = [np.log((2 + share) / (1 + 1 - share)) - centre, np.log((0 + share) / (2 + 1 - share)) - centre]
        self.assertTrue(np.allclose(log_odds, expected))
        # c was rated once: no crowd, not remembered however many items may be.
        self.assertEqual(remembered_items(dataset, counts, prior_count=1.0)[0].tolist(), [0, 1])

    def test_the_weight_is_what_the_rate_says_beyond_the_vector(self):
        root = tempfile.mkdtemp()
        popularity_world(os.path.join(root, "hidden"))                       # quality the vectors do not show
        popularity_world(os.path.join(root, "shown"), hidden_quality=False)  # the same, but the vectors show it
        hidden, shown = read_dataset(os.path.join(root, "hidden")), read_dataset(os.path.join(root, "shown"))
        self.assertGreater(weight_of(hidden), 0.5)
        self.assertLess(weight_of(shown), 0.2)
        # A user's own label never counts towards their rate: with it, a world of pure noise would
        # give the rate weight (each label would be in its own item's rate).
        noise = os.path.join(root, "noise")
        rng = np.random.default_rng(3)
        write_dataset(noise, rng.normal(size=(40, 6)).astype(np.float32), [f"i{k}" for k in range(40)],
                      [[f"u{u}", f"i{k}", int(rng.random() < 0.5), 0, ""] for u in range(60) for k in rng.choice(40, 20, replace=False)])
        noisy = read_dataset(noise)
        self.assertLess(weight_of(noisy), 0.2)

    def test_users_who_like_more_or_less_of_everything_do_not_shrink_the_weight(self):
        root = tempfile.mkdtemp()
        popularity_world(os.path.join(root, "even"))
        popularity_world(os.path.join(root, "biased"), user_bias=3.0)
        even, biased = read_dataset(os.path.join(root, "even")), read_dataset(os.path.join(root, "biased"))
        counts = baselines.item_like_counts(biased)
        without = rate_weight_beyond_vectors(biased, list(biased.users), counts, 3.0, user_intercepts=False)
        # Measured: 1.04 in the even world; in the biased one 1.08 with each user's bias, 0.89 without.
        self.assertLess(abs(weight_of(biased) - weight_of(even)), 0.07)
        self.assertLess(without, weight_of(even) - 0.1)

    def test_the_item_rate_baseline_matches_items_by_id(self):
        counts = {"a": (3, 1), "b": (0, 2)}
        scores = baselines.item_rate_log_odds(counts, ["b", "x", "a"], prior_count=2.0)   # overall share 3 / 6
        self.assertTrue(np.allclose(scores, [np.log((0 + 1) / (2 + 1)), 0.0, np.log((3 + 1) / (1 + 1))]))


class TrainerAddsItemRates(unittest.TestCase):
    def test_rates_weighted_by_validation_exported_and_stripped_for_fine_tuning(self):
        root = tempfile.mkdtemp()
        popularity_world(os.path.join(root, "data"), users=120)

        def run(out, *extra):
            return train_small(root, out, "--ensemble", "auto", "--item-rates", "auto", *extra)

        metrics, stdout = run("m")
        self.assertGreater(metrics["item_rates"]["weight"], 0.0)
        self.assertGreater(metrics["item_rates"]["items"], 0)
        self.assertIn("item like rates: weight", stdout)
        model, checkpoint = load_checkpoint(os.path.join(root, "m", "ckpt.pt"))
        self.assertIsInstance(model, WithItemRates)
        self.assertGreater(model.config.regression_weight, 0.0)
        meta = onnx_metadata(os.path.join(root, "m", "model.onnx"))
        self.assertEqual(meta["item_memory"], str(metrics["item_rates"]["items"]))
        self.assertEqual(float(meta["item_rate_weight"]), metrics["item_rates"]["weight"])
        self.assertEqual(meta["item_rates"], metrics["item_rates"]["selected_by"])
        # The validation figure is the served model's, with the rates.
        self.assertNotEqual(metrics["val_pairwise"], metrics["item_rates"]["val_pairwise_without"])
        self.assertEqual(metrics["item_rates"]["selected_by"], "the rate's weight beside the vector and each user's bias in a regression of the training labels")

        tuned, _ = run("tuned", "--init", os.path.join(root, "m", "ckpt.pt"), "--epochs", "1")
        again, _ = load_checkpoint(os.path.join(root, "tuned", "ckpt.pt"))
        self.assertIsInstance(again, WithItemRates)
        self.assertEqual(again.config.item_memory, tuned["item_rates"]["items"])


if __name__ == "__main__":
    unittest.main()
