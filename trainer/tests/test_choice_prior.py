import os
import tempfile
import unittest

import numpy as np
import torch

from trainer import baselines
from trainer.choice_prior import (LOOKALIKES, MAX_ITEMS, WithChoicePrior, add_choice_prior, attach_choice_prior, remembered_images,
                                  without_choice_prior)
from trainer.data import eval_users, read_dataset, subset
from trainer.ensemble import attach_regression
from trainer.evaluate import evaluate, model_scorer
from trainer.export import load_checkpoint
from trainer.item_rates import WithItemRates, attach_item_rates
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import NetworkAverage, members_of
from trainer.tests.helpers import onnx_metadata, train_small, rebuilds_alike, small_network, write_dataset

network = small_network


def log_odds(model, history, labels, candidates):
    with torch.no_grad():
        logits, user = model(history, labels, torch.ones_like(labels, dtype=torch.bool), candidates)
    return logits[..., 0] - logits[..., 1], user


def choice_world(path, users=120, prompts=60, dim=6, per_user=20, quality=3.0, seed=0, fresh=False):
    """Every interaction is a choice between two images of one prompt: image = the prompt's style
    plus its own offset, and the image whose offset lies further along a quality direction shared
    by everyone wins with probability sigmoid(quality * the offsets' difference . q). A style is
    a large shift, so an image's raw score says more of its prompt than of its quality. The
    images are a catalogue of two per prompt, or with `fresh` two new ones for every choice (so
    no image has a like rate to learn from, and a prompt is chosen many times over)."""
    rng = np.random.default_rng(seed)
    q = np.eye(dim)[0]
    styles = 4.0 * rng.normal(size=(prompts, dim))
    offsets = rng.normal(size=(prompts, 2, dim))
    vectors = list((styles[:, None, :] + offsets).reshape(-1, dim))
    ids = [f"p{p}-{side}" for p in range(prompts) for side in (0, 1)]
    rows = []
    for u in range(users):
        for t, p in enumerate(rng.choice(prompts, size=per_user, replace=fresh)):
            first, second, pair = ids[2 * p], ids[2 * p + 1], offsets[p]
            if fresh:
                pair = rng.normal(size=(2, dim))
                first, second = f"u{u}-c{t}-0", f"u{u}-c{t}-1"
                ids += [first, second]
                vectors += list(styles[p] + pair)
            first_wins = rng.random() < 1.0 / (1.0 + np.exp(-quality * (pair[0] - pair[1]) @ q))
            rows += [[f"u{u}", first, int(first_wins), t, f"u{u}-c{t}"], [f"u{u}", second, int(not first_wins), t, f"u{u}-c{t}"]]
    write_dataset(path, np.array(vectors, np.float32), ids, rows)


class Served(unittest.TestCase):
    def test_the_served_score_is_the_preference_less_its_look_alikes_mean_times_the_weight(self):
        rng = np.random.default_rng(1)
        vectors = rng.normal(size=(LOOKALIKES + 30, 6)).astype(np.float32)
        w = rng.normal(size=7)
        inner = network()
        model = attach_choice_prior(inner, vectors, w, np.arange(len(vectors)), 2.5, 0.5)
        # Written out: a remembered candidate's look-alikes are the LOOKALIKES images nearest it by
        # cosine once each vector's part along w is taken out, itself among them.
        unit_w = w[:-1] / np.linalg.norm(w[:-1])
        rest = vectors - np.outer(vectors @ unit_w, unit_w)
        rest /= np.linalg.norm(rest, axis=1, keepdims=True)
        scores = vectors @ w[:-1]
        candidates = np.array([3, 17, 0, 44])
        expected = np.array([scores[c] - scores[np.argsort(-(rest @ rest[c]))[:LOOKALIKES]].mean() for c in candidates])
        history = torch.randn(1, 4, 6)
        labels = torch.tensor([[1, 0, 1, 0]])
        served, user = log_odds(model, history, labels, torch.from_numpy(vectors[candidates])[None])
        plain, plain_user = log_odds(inner, history, labels, torch.from_numpy(vectors[candidates])[None])
        self.assertTrue(np.allclose((served - 0.5 * plain)[0].numpy(), 2.5 * expected, atol=1e-4), (served - 0.5 * plain, expected))
        self.assertTrue(torch.equal(user, plain_user))
        # A candidate's figure does not depend on the others beside it.
        alone, _ = log_odds(model, history, labels, torch.from_numpy(vectors[[17]])[None])
        self.assertAlmostEqual(float(alone[0, 0]), float(served[0, 1]), places=5)
        # A new image takes the look-alikes of the remembered image nearest it.
        new = vectors[17] + 0.01 * rng.normal(size=6).astype(np.float32)
        with torch.no_grad():
            centred = float(model.centred_preference(torch.from_numpy(new)[None, None])[0, 0])
        self.assertAlmostEqual(centred, float(new @ w[:-1] - (scores[17] - expected[1])), places=4)

    def test_an_image_of_a_prompt_is_judged_against_its_look_alikes_not_its_prompt(self):
        # Two prompts far apart, the preference along the first axis: the raw score ranks every
        # image of prompt A above every image of prompt B; the centred one ranks the best of B
        # above the worst of A, as a choice within each prompt says.
        rng = np.random.default_rng(2)
        a = np.array([10.0, 10, 0]) + rng.normal(scale=0.3, size=(LOOKALIKES, 3))
        b = np.array([-10.0, 0, 10]) + rng.normal(scale=0.3, size=(LOOKALIKES, 3))
        vectors = np.vstack([a, b]).astype(np.float32)
        w = np.array([1.0, 0, 0, 0])
        model = attach_choice_prior(PreferenceModel(ModelConfig(embedding_dim=3, width=8, heads=2, encoder_layers=1,
                                                                preference_tokens=2, dropout=0.0)).eval(),
                                    vectors, w, np.arange(len(vectors)), 1.0)
        worst_a, best_b = int(np.argmin(a[:, 0])), LOOKALIKES + int(np.argmax(b[:, 0]))
        with torch.no_grad():
            centred = model.centred_preference(torch.from_numpy(vectors[[worst_a, best_b]])[None])[0]
        self.assertGreater(float(centred[1]), float(centred[0]))
        self.assertGreater(vectors[worst_a] @ w[:-1], vectors[best_b] @ w[:-1])

    def test_attached_to_item_rates_over_two_networks_saved_loaded_and_stripped(self):
        average = attach_regression(NetworkAverage.of([network(0), network(1)]), np.linspace(-1, 1, 7), 1.0, 0.5)
        rated = attach_item_rates(average, np.eye(6, dtype=np.float32), [2, 4], np.array([1.0, -1.0]), 0.7)
        images = np.random.default_rng(3).normal(size=(12, 6)).astype(np.float32)
        model = attach_choice_prior(rated, images, np.linspace(1, -1, 7), np.arange(12), 0.8)
        self.assertIsInstance(model, WithChoicePrior)
        self.assertIsInstance(model.inner, WithItemRates)
        self.assertEqual((model.config.choice_memory, model.config.choice_weight, model.config.item_memory), (12, 0.8, 2))
        self.assertEqual(len(members_of(model)), 2)
        self.assertTrue(rebuilds_alike(model))
        # Attaching again replaces the prior rather than stacking it.
        again = attach_choice_prior(model, images, np.linspace(1, -1, 7), np.arange(5), 2.0)
        self.assertIs(type(without_choice_prior(again)), WithItemRates)
        self.assertEqual(again.config.choice_memory, 5)
        with self.assertRaisesRegex(ValueError, "choice_memory"):
            PreferenceModel(ModelConfig(choice_memory=3))

    def test_a_large_catalogue_is_sampled_the_same_way_every_time(self):
        vectors = np.zeros((5000, 2), np.float32)
        rows = remembered_images(vectors, seed=4, max_items=100)
        self.assertEqual(len(rows), 100)
        self.assertEqual(len(set(rows.tolist())), 100)
        self.assertTrue(np.array_equal(rows, remembered_images(vectors, seed=4, max_items=100)))
        self.assertEqual(remembered_images(vectors[:50], seed=4, max_items=100).tolist(), list(range(50)))


class Weight(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        choice_world(os.path.join(self.root, "choices"), prompts=8, fresh=True)
        self.dataset = read_dataset(os.path.join(self.root, "choices"))
        self.users = sorted(self.dataset.users)

    def test_no_choices_no_prior(self):
        rows = [[f"u{u}", f"i{k}", int(k % 2), k, ""] for u in range(5) for k in range(6)]
        write_dataset(os.path.join(self.root, "single"), np.eye(6, dtype=np.float32), [f"i{k}" for k in range(6)], rows)
        single = read_dataset(os.path.join(self.root, "single"))
        model = network()
        out, record = add_choice_prior(model, single, sorted(single.users), [], seed=0)
        self.assertIs(out, model)
        self.assertEqual((record["choices"], record["weight"]), (0, 0.0))

    def test_both_coefficients_fitted_on_validation_users_and_the_prior_ranks_where_the_model_knows_nothing(self):
        train, val = self.users[:80], self.users[80:]
        val_users = eval_users(subset(self.dataset, val), 4)
        self.assertGreater(len(val_users), 20)
        # An untrained network's log-odds are noise about these choices; the prior knows them.
        untrained = network()
        model, record = add_choice_prior(untrained, self.dataset, train, val_users, seed=0)
        self.assertIsInstance(model, WithChoicePrior)
        self.assertEqual((model.config.choice_weight, model.config.choice_scale), (record["weight"], record["scale"]))
        self.assertGreater(record["weight"], 0.0)
        self.assertEqual(record["users"], len(val_users))
        self.assertEqual((record["choices"], record["images"]), (80 * 20, MAX_ITEMS))
        before = evaluate(model_scorer(untrained, self.dataset.vectors), val_users)["pairwise"]
        after = evaluate(model_scorer(model, self.dataset.vectors), val_users)["pairwise"]
        self.assertGreater(after, before + 10)
        # Without validation users: the model as it is, the preference at its own scale.
        _, fallback = add_choice_prior(untrained, self.dataset, train, [], seed=0)
        self.assertEqual((fallback["weight"], fallback["scale"]), (1.0, 1.0))


    def test_not_served_where_the_validation_users_do_not_show_it_helps(self):
        # Choices made by coin flips: the preference fitted on them is noise.
        choice_world(os.path.join(self.root, "coins"), prompts=8, fresh=True, quality=0.0)
        coins = read_dataset(os.path.join(self.root, "coins"))
        users = sorted(coins.users)
        model = network()
        out, record = add_choice_prior(model, coins, users[:80], eval_users(subset(coins, users[80:]), 4), seed=0)
        self.assertIs(out, model)
        self.assertEqual(record["weight"], 0.0)
        self.assertLess(record["prior_coefficient"], 2 * record["prior_standard_error"])


class TrainerAddsTheChoicePrior(unittest.TestCase):
    def test_weighted_on_validation_users_exported_and_stripped_for_fine_tuning(self):
        root = tempfile.mkdtemp()
        # Images judged once: their like rates know nothing, the prior does; more images than remembered.
        choice_world(os.path.join(root, "data"), users=200, prompts=8, fresh=True, per_user=25, quality=5.0)

        def run(out, *extra):
            return train_small(root, out, "--n-ref", "4", "--ensemble", "auto", "--item-rates", "auto", "--choice-prior", "auto", *extra)

        metrics, stdout = run("m")
        prior = metrics["choice_prior"]
        self.assertGreater(prior["weight"], 0.0)
        self.assertEqual(prior["images"], MAX_ITEMS)
        self.assertIn("choice prior: weight", stdout)
        model, _ = load_checkpoint(os.path.join(root, "m", "ckpt.pt"))
        self.assertIsInstance(model, WithChoicePrior)
        self.assertGreater(model.config.regression_weight, 0.0)
        meta = onnx_metadata(os.path.join(root, "m", "model.onnx"))
        self.assertEqual(meta["choice_memory"], str(MAX_ITEMS))
        self.assertEqual(float(meta["choice_weight"]), prior["weight"])
        self.assertEqual(float(meta["choice_scale"]), prior["scale"])
        self.assertEqual(meta["choice_prior"], prior["selected_by"])
        # The validation figure is the served model's, with the prior.
        self.assertNotEqual(metrics["val_pairwise"], prior["val_pairwise_without"])

        tuned, _ = run("tuned", "--init", os.path.join(root, "m", "ckpt.pt"), "--epochs", "1")
        again, _ = load_checkpoint(os.path.join(root, "tuned", "ckpt.pt"))
        self.assertIsInstance(again, WithChoicePrior)
        self.assertIsNot(type(again.inner), WithChoicePrior)
        self.assertEqual(again.config.choice_weight, tuned["choice_prior"]["weight"])


if __name__ == "__main__":
    unittest.main()
