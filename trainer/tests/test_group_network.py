import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from trainer.class_count import (MIN_CLASSES, MIN_USERS_PER_CLASS, choose_class_count, class_count_for_run, folds_of,
                                 held_out_log_likelihoods, served_class_count)
from trainer.export import load_checkpoint
from trainer.data import read_dataset, split_users, subset
from trainer.group_network import CLASS_TEMPERATURE, WithGroupNetwork, class_group_network, group_config, split
from trainer.latent_classes import _class_log_likelihoods, _posterior, _with_bias, fit_latent_classes
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import build_model, members_of
from trainer.tests.helpers import onnx_metadata, rebuilds_alike, small_network, taste_world, trainer_refusing, write_dataset


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    history = torch.randn(2, 5, 6, generator=g)
    labels = torch.tensor([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0]])
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    return history, labels, mask, torch.randn(2, 4, 6, generator=g)


class TheModule(unittest.TestCase):
    def setUp(self):
        self.scoring, self.group = small_network(0), small_network(1)
        self.model = WithGroupNetwork.of(self.scoring, self.group)

    def test_scores_are_the_scoring_networks_and_the_embedding_the_group_networks(self):
        x = inputs()
        with torch.no_grad():
            logits, user = self.model(*x)
            self.assertTrue(torch.equal(logits, self.scoring(*x)[0]))
            self.assertTrue(torch.allclose(user, self.group(*x)[1], atol=1e-6))
            self.assertFalse(torch.allclose(user, self.scoring(*x)[1], atol=1e-3))

    def test_padded_slots_never_reach_the_embedding(self):
        history, labels, mask, candidates = inputs()
        poisoned = history.clone()
        poisoned[1, 3:] = float("nan")
        with torch.no_grad():
            user = self.model(poisoned, labels, mask, candidates)[1]
            self.assertTrue(torch.isfinite(user).all())
            self.assertTrue(torch.allclose(user, self.model(history, labels, mask, candidates)[1]))

    def test_a_checkpoint_rebuilds_it_and_the_parts_see_the_scoring_network_only(self):
        self.assertTrue(self.model.config.group_network)
        self.assertTrue(rebuilds_alike(self.model))
        self.assertIsInstance(build_model(self.model.config), WithGroupNetwork)
        self.assertEqual(members_of(self.model), [self.model.inner])
        self.assertEqual(split(self.model), (self.model.inner, self.model.group))
        self.assertEqual(split(self.scoring), (self.scoring, None))

    def test_the_group_config_keeps_the_shape_and_drops_what_only_scores(self):
        config = ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, preference_tokens=3, user_fit_steps=20,
                             regression_weight=0.4, global_floor=True, item_memory=5, token_attention="cross")
        self.assertEqual(group_config(config), ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1,
                                                           preference_tokens=3, token_attention="cross"))

    def test_refused_without_tokens_and_inside_a_network(self):
        with self.assertRaisesRegex(ValueError, "preference_tokens 0"):
            WithGroupNetwork(ModelConfig(embedding_dim=6, preference_tokens=0, group_network=True))
        with self.assertRaisesRegex(ValueError, "group_network"):
            PreferenceModel(ModelConfig(embedding_dim=6, group_network=True))


def train(root, data, out, *flags):
    """(out dir, stdout, metrics.json) of the trainer on root/data: a small network, 2 epochs of 8
    episodes per user (batch 32, so a run takes more than OneCycleLR's shortest schedule)."""
    done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, data), "--out", os.path.join(root, out),
                           "--epochs", "2", "--width", "16", "--layers", "1", "--tokens", "3", "--batch", "32",
                           "--max-episodes", "2000", "--val-share", "0.3", "--progress", *flags],
                          check=True, capture_output=True, text=True)
    with open(os.path.join(root, out, "metrics.json")) as f:
        return os.path.join(root, out), done.stdout, json.load(f)


def outputs(out):
    """The saved model's (logits, user embedding) on fixed inputs of dimension 8."""
    model, _ = load_checkpoint(os.path.join(out, "ckpt.pt"))
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(2, 6, 8, generator=g), torch.tensor([[1, 0] * 3] * 2), torch.ones(2, 6, dtype=torch.bool),
         torch.randn(2, 5, 8, generator=g))
    with torch.no_grad():
        return model.eval()(*x)


class TheTrainer(unittest.TestCase):
    """--group-episodes N on 84 training users: 8 episodes a user (672 an epoch) is fewer than 1,200."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp()
        taste_world(os.path.join(cls.root, "data"), users=120, seed=5)
        cls.out, cls.stdout, cls.metrics = train(cls.root, "data", "both", "--group-episodes", "1200")

    def test_scores_as_one_network_does_and_embeds_as_the_minimum_would(self):
        plain, _, _ = train(self.root, "data", "plain")
        least, _, _ = train(self.root, "data", "least", "--min-episodes", "1200")
        logits, user = outputs(self.out)
        self.assertTrue(torch.equal(logits, outputs(plain)[0]))
        self.assertTrue(torch.equal(user, outputs(least)[1]))
        self.assertFalse(torch.equal(user, outputs(plain)[1]))
        self.assertEqual(onnx_metadata(os.path.join(self.out, "model.onnx"))["user_embedding_from"], "taste-group network")
        self.assertEqual(onnx_metadata(os.path.join(plain, "model.onnx"))["user_embedding_from"], "scoring network")

    def test_says_what_it_trained_and_why_and_progress_counts_it(self):
        group = self.metrics["group_network"]
        self.assertEqual((group["episodes_per_user"], group["started_from"]), (15, "fresh"))
        self.assertIn("8 episodes per user, fewer than --group-episodes 1200 asks of 84 training users", group["why"])
        self.assertEqual(self.metrics["episodes_per_user"], 8)
        progress = [json.loads(line)["progress"] for line in self.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual((progress[-1]["epoch"], {p["epochs"] for p in progress}), (4, {4}))
        self.assertEqual({p.get("network") for p in progress if p["epoch"] > 2}, {2})

    def test_a_fine_tune_trains_the_checkpoints_group_network_on_and_drops_it_when_not_asked(self):
        init = os.path.join(self.out, "ckpt.pt")
        tuned, _, metrics = train(self.root, "data", "tuned", "--group-episodes", "1200", "--init", init)
        self.assertEqual(metrics["group_network"]["started_from"], "the --init checkpoint's taste-group network")
        self.assertTrue(torch.load(os.path.join(tuned, "ckpt.pt"))["config"]["group_network"])
        _, _, metrics = train(self.root, "data", "dropped", "--init", init)
        self.assertIsNone(metrics["group_network"])
        self.assertFalse(torch.load(os.path.join(self.root, "dropped", "ckpt.pt"))["config"]["group_network"])
        # A warm start with no taste-group network of its own (the base model, say) lends it the
        # scoring network's weights, and it trains what --min-episodes would have trained from there.
        base = os.path.join(self.root, "dropped", "ckpt.pt")
        lent, _, metrics = train(self.root, "data", "lent", "--group-episodes", "1200", "--init", base)
        self.assertEqual(metrics["group_network"]["started_from"], "the --init checkpoint's scoring network")
        least, _, _ = train(self.root, "data", "least-from-base", "--min-episodes", "1200", "--init", base)
        self.assertTrue(torch.equal(outputs(lent)[1], outputs(least)[1]))

    def test_a_first_model_from_another_worlds_base_model_drops_its_group_network(self):
        # --init-group-network drop (the nightly's first model from the shipped base model): the
        # checkpoint's taste-group network is not continued, and a first one starts as
        # --group-start says, here from this run's scoring network.
        init = os.path.join(self.out, "ckpt.pt")
        flags = ("--group-episodes", "1200", "--group-start", "scoring", "--init", init)
        first, _, metrics = train(self.root, "data", "first-from-base", *flags, "--init-group-network", "drop")
        self.assertEqual(metrics["group_network"]["started_from"], "this run's scoring network")
        self.assertTrue(torch.load(os.path.join(first, "ckpt.pt"))["config"]["group_network"])
        continued, _, metrics = train(self.root, "data", "continued", *flags)
        self.assertEqual(metrics["group_network"]["started_from"], "the --init checkpoint's taste-group network")
        self.assertTrue(torch.equal(outputs(first)[0], outputs(continued)[0]))
        self.assertFalse(torch.allclose(outputs(first)[1], outputs(continued)[1], atol=1e-4))
        refused = trainer_refusing("--init-group-network", "drop")
        self.assertIn("without --init there is none", refused.stderr)

    def test_started_from_the_scoring_network_it_trains_on_from_its_kept_weights(self):
        # --group-start scoring: the taste-group network's one epoch of 15 episodes a user is what
        # a warm start from the same run's scoring network trains in one such epoch. Without
        # dropout, so that the two runs' different draws of it before training do not count.
        flags = ("--group-episodes", "1200", "--group-epochs", "1", "--dropout", "0")
        out, stdout, metrics = train(self.root, "data", "from-scoring", *flags, "--group-start", "scoring")
        group = metrics["group_network"]
        self.assertEqual((group["started_from"], group["epochs"], group["epoch"]), ("this run's scoring network", 1, 1))
        progress = [json.loads(line)["progress"] for line in stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual((progress[-1]["epoch"], {p["epochs"] for p in progress}), (3, {3}))
        plain, _, _ = train(self.root, "data", "plain-for-start", "--dropout", "0")
        onward, _, _ = train(self.root, "data", "onward", "--min-episodes", "1200", "--epochs", "1", "--init",
                             os.path.join(plain, "ckpt.pt"))
        fresh, _, _ = train(self.root, "data", "fresh-start", *flags)
        logits, user = outputs(out)
        self.assertTrue(torch.equal(logits, outputs(plain)[0]))
        self.assertTrue(torch.allclose(user, outputs(onward)[1], atol=1e-6))
        self.assertFalse(torch.allclose(user, outputs(fresh)[1], atol=1e-3))

    def test_keeps_its_last_epoch_where_asked_where_validation_keeps_an_earlier_one(self):
        flags = ("--group-episodes", "1200", "--group-start", "scoring", "--group-epochs", "6")
        validated, _, metrics = train(self.root, "data", "group-validated", *flags)
        last, _, last_metrics = train(self.root, "data", "group-last", *flags, "--group-keep", "last")
        self.assertLess(metrics["group_network"]["epoch"], 6)   # what makes this world a test of it
        self.assertEqual((last_metrics["group_network"]["epoch"], last_metrics["group_network"]["selected_by"]),
                         (6, "last epoch: --group-keep last"))
        self.assertEqual(last_metrics["epoch"], metrics["epoch"])   # the scoring network's selection is its own
        self.assertTrue(torch.equal(outputs(last)[0], outputs(validated)[0]))
        self.assertFalse(torch.allclose(outputs(last)[1], outputs(validated)[1], atol=1e-4))

    def test_none_where_the_scoring_network_draws_enough(self):
        _, stdout, metrics = train(self.root, "data", "enough", "--group-episodes", "600")
        self.assertIsNone(metrics["group_network"])
        self.assertNotIn("taste-group network", stdout)

    def test_refused_without_tokens_and_below_zero(self):
        done = trainer_refusing("--tokens", "0", "--group-episodes", "1000")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--group-episodes: the taste-group network's user embedding is its preference tokens; --tokens 0 has none", done.stderr)
        done = trainer_refusing("--group-episodes", "-1")
        self.assertIn("--group-episodes: expected 0 (off) or a number of episodes, got -1", done.stderr)
        done = trainer_refusing("--group-episodes", "1000", "--group-epochs", "-2")
        self.assertIn("--group-epochs: expected 0 (--epochs) or a number of epochs, got -2", done.stderr)


class FromClasses(unittest.TestCase):
    """--group-from classes: EM's latent classes as an untrained taste-group network's tokens."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp()
        taste_world(os.path.join(cls.root, "data"), users=120, seed=5)
        cls.dataset = read_dataset(os.path.join(cls.root, "data"))
        cls.out, cls.stdout, cls.metrics = train(cls.root, "data", "classes", "--group-from", "classes")

    def test_its_tokens_are_the_classes_and_it_embeds_with_their_tempered_posterior(self):
        users = sorted(self.dataset.users)[:60]
        config = ModelConfig(embedding_dim=8, width=16, encoder_layers=1, preference_tokens=3)
        rng_before = torch.get_rng_state()
        # 5 classes beside the scoring network's 3 tokens: the count is the taste-group network's own.
        group = class_group_network(config, self.dataset, users, seed=4, classes=5)
        self.assertTrue(torch.equal(torch.get_rng_state(), rng_before))   # the runs after it draw what they drew
        self.assertEqual((group.config.preference_tokens, group_config(config).preference_tokens), (5, 3))
        classes, _ = fit_latent_classes(subset(self.dataset, users), 5, 4)
        with torch.no_grad():
            tastes = group.token_taste(group.tokens).double().numpy()
        np.testing.assert_allclose(tastes, classes, atol=1e-4)
        rows = self.dataset.users[sorted(self.dataset.users)[100]][:12]
        items = np.array([r.item for r in rows])
        labels = np.array([r.label for r in rows])
        history = torch.from_numpy(self.dataset.vectors[items]).unsqueeze(0)
        with torch.no_grad():
            activations, mixed = group.token_mixture(history, torch.from_numpy(labels).unsqueeze(0),
                                                     torch.ones(1, len(rows), dtype=torch.bool))
        likelihoods = _class_log_likelihoods(_with_bias(self.dataset.vectors[items].astype(np.float64)) @ classes.T,
                                             labels.astype(np.float64), np.zeros(len(rows), int), 1)
        posterior = _posterior(CLASS_TEMPERATURE * likelihoods, np.full(5, 1 / 5))[0]   # tempered, an even prior
        np.testing.assert_allclose(activations[0].numpy(), posterior, atol=1e-4)
        np.testing.assert_allclose(mixed[0].numpy(), posterior @ classes, atol=1e-4)

    def test_the_scores_are_the_scoring_networks_and_it_says_where_the_embedding_comes_from(self):
        plain, _, _ = train(self.root, "data", "plain-beside-classes")
        logits, user = outputs(self.out)
        self.assertTrue(torch.equal(logits, outputs(plain)[0]))
        record = self.metrics["group_network"]
        self.assertEqual(record["started_from"], "latent classes")
        # The count is chosen on held-out training users (class_count.py: here the 3 groups' 4, of
        # counts up to 8, 42 users a half over MIN_USERS_PER_CLASS) and served at MIN_CLASSES at least,
        # two numbers a class in the embedding, as the metadata says, whatever the scoring network's tokens.
        likelihood = record["held_out_log_likelihood"]
        self.assertEqual(sorted(likelihood), ["1", "2", "4", "6", "8"])
        self.assertGreater(likelihood["4"], likelihood["2"] + 0.1)
        self.assertEqual((record["classes"], record["chosen"], record["users"]), (MIN_CLASSES, 4, 84))
        self.assertEqual((tuple(user.shape), tuple(outputs(plain)[1].shape)), ((2, 2 * MIN_CLASSES), (2, 6)))
        self.assertEqual(torch.load(os.path.join(self.out, "ckpt.pt"))["config"]["group_tokens"], MIN_CLASSES)
        self.assertIn(f"taste-group network: {MIN_CLASSES} latent classes fitted on 84 training users", self.stdout)
        self.assertIn(", 4 chosen)", self.stdout)
        metadata = onnx_metadata(os.path.join(self.out, "model.onnx"))
        self.assertEqual((metadata["user_embedding_from"], metadata["user_embedding_dim"], metadata["preference_tokens"]),
                         ("latent classes", str(2 * MIN_CLASSES), "3"))
        self.assertEqual(metadata["user_embedding_layout"], f"taste_coordinates:{MIN_CLASSES},token_activations:{MIN_CLASSES}")

    def test_a_count_asked_for_is_the_count_served(self):
        _, stdout, metrics = train(self.root, "data", "classes-asked", "--group-from", "classes", "--group-classes", "5")
        self.assertEqual((metrics["group_network"]["classes"], metrics["group_network"]["held_out_log_likelihood"]), (5, None))
        self.assertIn("taste-group network: 5 latent classes fitted on 84 training users", stdout)

    def test_a_fine_tune_fits_them_afresh(self):
        tuned, _, metrics = train(self.root, "data", "classes-tuned", "--group-from", "classes", "--init",
                                  os.path.join(self.out, "ckpt.pt"))
        self.assertEqual(metrics["group_network"]["started_from"], "latent classes")
        self.assertTrue(torch.load(os.path.join(tuned, "ckpt.pt"))["config"]["group_network"])
        self.assertEqual(onnx_metadata(os.path.join(tuned, "model.onnx"))["user_embedding_from"], "latent classes")
        self.assertEqual(metrics["group_network"]["classes"], torch.load(os.path.join(tuned, "ckpt.pt"))["config"]["group_tokens"])

    def test_refused_beside_a_trained_taste_group_network_and_without_tokens(self):
        done = trainer_refusing("--group-from", "classes", "--group-episodes", "1000")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--group-from classes: the classes are the taste-group network, untrained", done.stderr)
        done = trainer_refusing("--group-from", "classes", "--tokens", "0")
        self.assertIn("--group-from classes: the taste-group network's user embedding is its preference tokens; --tokens 0 has none",
                      done.stderr)
        for flags, error in ((("--group-classes", "1"), "expected auto or a whole number of classes of at least 2, got 1"),
                             (("--group-classes", "six"), "expected auto or a whole number of classes of at least 2, got six"),
                             (("--group-classes", "20", "--width", "16"), "the taste-group network holds at most its width, 16, classes; got 20")):
            done = trainer_refusing("--group-from", "classes", *flags)
            self.assertNotEqual(done.returncode, 0)
            self.assertIn(f"--group-classes: {error}", done.stderr)
        done = trainer_refusing("--group-classes", "4")
        self.assertIn("--group-classes: the count of latent classes applies with --group-from classes alone", done.stderr)


class ClassCount(unittest.TestCase):
    """trainer/class_count.py: how many latent classes the taste groups get."""

    def test_the_held_out_likelihood_finds_the_groups_and_no_more_where_labels_say_nothing(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "groups"), users=160, groups=4, seed=5)
        count, likelihood = choose_class_count(read_dataset(os.path.join(root, "groups")), [f"u{u}" for u in range(160)], 0)
        # Flat past 4 (no count above 4's likelihood by 0.002): the smallest near the best.
        self.assertEqual(count, 4)
        self.assertGreater(likelihood[4], likelihood[2] + 0.2)
        self.assertLess(max(likelihood.values()) - likelihood[4], 0.002)
        # Past MIN_CLASSES the choice is served as it is.
        taste_world(os.path.join(root, "many"), users=480, groups=16, seed=5)
        count, _ = choose_class_count(read_dataset(os.path.join(root, "many")), [f"u{u}" for u in range(480)], 0)
        self.assertEqual((count, served_class_count(count, 64), served_class_count(4, 64), served_class_count(1, 8)), (16, 16, 10, 8))
        # Labels drawn at random: a class fitted on some users explains no other user, so one does best.
        rng = np.random.default_rng(0)
        rows = [[f"u{u}", f"i{k}", int(rng.integers(2)), t, ""] for u in range(80)
                for t, k in enumerate(rng.choice(60, size=30, replace=False))]
        write_dataset(os.path.join(root, "noise"), rng.normal(size=(60, 8)), [f"i{k}" for k in range(60)], rows)
        noise = read_dataset(os.path.join(root, "noise"))
        count, likelihood = choose_class_count(noise, sorted(noise.users), 0)
        self.assertEqual(count, 1)
        # A class is fitted on MIN_USERS_PER_CLASS users at least: 40 a half try up to 8 classes, 10 up to 2.
        self.assertEqual(MIN_USERS_PER_CLASS, 5)
        self.assertEqual(sorted(likelihood), [1, 2, 4, 6, 8])
        self.assertEqual(sorted(choose_class_count(noise, sorted(noise.users)[:20], 0)[1]), [1, 2])

    def test_more_folds_hold_every_user_out_once_and_try_more_classes(self):
        users = [f"u{u}" for u in range(23)]
        parts = folds_of(users, 5, 0)
        self.assertEqual(sorted(u for part in parts for u in part), sorted(users))
        self.assertEqual(sorted(map(len, parts)), [4, 4, 5, 5, 5])
        self.assertEqual(folds_of(users, 2, 0), list(split_users(users, 0.5, 0)))   # session 56's halves
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, groups=4, per_user=20, seed=2)
        dataset = read_dataset(os.path.join(root, "data"))
        ids = sorted(dataset.users)
        halves, labels = held_out_log_likelihoods(dataset, ids, 0)
        fifths, same_labels = held_out_log_likelihoods(dataset, ids, 0, folds=5)
        # Every user held out once either way; fitted on 32 users of 40, not 20, five folds try 6 classes.
        self.assertEqual((labels, {len(v) for v in fifths.values()}), (same_labels, {40}))
        self.assertEqual((sorted(halves), sorted(fifths)), ([1, 2, 4], [1, 2, 4, 6]))
        _, record = class_count_for_run(dataset, ids, 0, 64, folds=5)
        self.assertEqual(record["chosen_by"], "held-out log-likelihood per label, the training users in 5 parts held out in turn")
        with self.assertRaisesRegex(ValueError, "3 users cannot be split in 5"):
            held_out_log_likelihoods(dataset, ids[:3], 0, folds=5)

    def test_a_run_serves_the_count_asked_or_the_fewest_where_no_half_can_be_held_out(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=12, groups=2, per_user=20, seed=2)
        dataset = read_dataset(os.path.join(root, "data"))
        self.assertEqual(class_count_for_run(dataset, sorted(dataset.users), 0, 64, asked=3),
                         (3, {"chosen": 3, "chosen_by": "--group-classes", "held_out_log_likelihood": None}))
        classes, record = class_count_for_run(dataset, ["u0"], 0, 64)
        self.assertEqual((classes, record["chosen"]), (MIN_CLASSES, None))
        self.assertEqual(record["chosen_by"], "none: 1 training users leave no half to hold out")
        classes, record = class_count_for_run(dataset, sorted(dataset.users), 0, 8)
        self.assertEqual((classes, sorted(record["held_out_log_likelihood"])), (8, [1]))   # the width caps the fewest served

    def test_where_one_class_is_best_the_embedding_still_mixes_the_fewest_served(self):
        root = tempfile.mkdtemp()
        rng = np.random.default_rng(1)
        rows = [[f"u{u}", f"i{k}", int(rng.integers(2)), t, ""] for u in range(60)
                for t, k in enumerate(rng.choice(60, size=30, replace=False))]
        write_dataset(os.path.join(root, "data"), rng.normal(size=(60, 8)), [f"i{k}" for k in range(60)], rows)
        _, stdout, metrics = train(root, "data", "m", "--group-from", "classes")
        record = metrics["group_network"]
        self.assertEqual((record["chosen"], record["classes"]), (1, MIN_CLASSES))
        self.assertIn("one class explains them best: their tastes differ too little to tell groups apart", stdout)


if __name__ == "__main__":
    unittest.main()
