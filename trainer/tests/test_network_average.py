import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

from trainer.ensemble import attach_regression
from trainer.export import load_checkpoint
from trainer.model import ModelConfig, PreferenceModel
from trainer.network_average import NetworkAverage, build_model, members_of
from trainer.tests.helpers import onnx_metadata, taste_world, trainer_refusing

CONFIG = ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, preference_tokens=3, dropout=0.0)


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 5, 6, generator=g), torch.randint(0, 2, (2, 5), generator=g),
            torch.ones(2, 5, dtype=torch.bool), torch.randn(2, 4, 6, generator=g))


def trained_networks(n):
    networks = []
    for k in range(n):
        torch.manual_seed(k)
        network = PreferenceModel(CONFIG).eval()
        torch.nn.init.normal_(network.user_weights.weight, std=0.1)
        networks.append(network)
    return networks


class Average(unittest.TestCase):
    def test_logits_are_the_members_mean_and_the_embedding_the_first_members(self):
        networks = trained_networks(3)
        average = NetworkAverage.of(networks).eval()
        x = inputs()
        with torch.no_grad():
            logits, user = average(*x)
            each = [n(*x) for n in networks]
        self.assertTrue(torch.allclose(logits, torch.stack([l for l, _ in each]).mean(0), atol=1e-6))
        self.assertTrue(torch.equal(user, each[0][1]))
        self.assertEqual(average.config.networks, 3)
        self.assertEqual(members_of(average), list(average.members))
        self.assertEqual(members_of(networks[0]), [networks[0]])

    def test_the_regression_on_every_member_is_the_regression_on_the_average(self):
        networks = trained_networks(2)
        prior = torch.linspace(-1.0, 1.0, 7).numpy()
        x = inputs(1)
        log_odds = lambda m: (lambda l: l[..., 0] - l[..., 1])(m(*x)[0])
        with torch.no_grad():
            ensemble = attach_regression(NetworkAverage.of(networks), prior, 3.0, 0.4)
            regression = attach_regression(networks[0], prior, 3.0, 1.0)
            expected = 0.6 * (log_odds(networks[0]) + log_odds(networks[1])) / 2 + 0.4 * log_odds(regression)
            self.assertTrue(torch.allclose(log_odds(ensemble), expected, atol=1e-5))
        self.assertEqual((ensemble.config.networks, ensemble.config.regression_weight), (2, 0.4))

    def test_build_model_follows_the_config_and_one_network_refuses_many(self):
        self.assertIsInstance(build_model(CONFIG), PreferenceModel)
        self.assertIsInstance(build_model(ModelConfig(**{**CONFIG.to_dict(), "networks": 2})), NetworkAverage)
        with self.assertRaisesRegex(ValueError, "networks: a PreferenceModel is one network, got 2"):
            PreferenceModel(ModelConfig(**{**CONFIG.to_dict(), "networks": 2}))
        with self.assertRaisesRegex(ValueError, "networks: an average needs at least 2, got 1"):
            NetworkAverage(CONFIG)


class TrainerAveragesNetworks(unittest.TestCase):
    """trainer.train --networks K: the first network is the single-network run of the same seed,
    the others differ, the average is validated, exported and loaded as one model, and a warm
    start fine-tunes every network."""

    def run_trainer(self, root, out, *extra):
        subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, out),
                        "--epochs", "2", "--width", "16", "--layers", "1", "--max-episodes", "300", "--quiet", *extra],
                       check=True, capture_output=True, text=True)
        with open(os.path.join(root, out, "metrics.json")) as f:
            return json.load(f)

    def test_two_networks_trained_averaged_exported_and_fine_tuned(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=60, seed=4)
        self.run_trainer(root, "one")
        metrics = self.run_trainer(root, "two", "--networks", "2", "--ensemble", "auto")
        single, _ = load_checkpoint(os.path.join(root, "one", "ckpt.pt"))
        average, checkpoint = load_checkpoint(os.path.join(root, "two", "ckpt.pt"))
        self.assertIsInstance(average, NetworkAverage)
        self.assertEqual((checkpoint["config"]["networks"], len(metrics["networks"])), (2, 2))
        first, second = average.members
        shared = [k for k in single.state_dict() if not k.startswith("fit_")]
        self.assertTrue(all(torch.equal(single.state_dict()[k], first.state_dict()[k]) for k in shared))
        self.assertFalse(all(torch.equal(first.state_dict()[k], second.state_dict()[k]) for k in shared))
        self.assertEqual(metrics["epochs"], metrics["networks"][0]["epochs"])
        self.assertTrue(metrics["selected_by"].startswith("the average of 2 networks"))
        self.assertGreater(checkpoint["config"]["regression_weight"], 0.0)
        meta = onnx_metadata(os.path.join(root, "two", "model.onnx"))
        self.assertEqual(meta["networks"], "2")

        tuned = self.run_trainer(root, "tuned", "--init", os.path.join(root, "two", "ckpt.pt"), "--ensemble", "auto")
        model, checkpoint = load_checkpoint(os.path.join(root, "tuned", "ckpt.pt"))
        self.assertEqual((checkpoint["config"]["networks"], len(tuned["networks"])), (2, 2))
        self.assertFalse(torch.equal(model.members[1].project[0].weight, second.project[0].weight))

    def test_a_warm_start_keeps_its_network_count(self):
        # The nightly run passes the same flags to fresh and warm runs, as with the token attention.
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=30, seed=5)
        self.run_trainer(root, "one")
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, "m"),
                               "--init", os.path.join(root, "one", "ckpt.pt"), "--networks", "2", "--epochs", "1", "--max-episodes", "100"],
                              check=True, capture_output=True, text=True)
        self.assertIn("--networks 2: the --init checkpoint averages 1 network(s), and fine-tuning keeps that", done.stdout)
        self.assertIsInstance(load_checkpoint(os.path.join(root, "m", "ckpt.pt"))[0], PreferenceModel)
        done = trainer_refusing("--networks", "0")
        self.assertIn("--networks: expected at least 1, got 0", done.stderr)


if __name__ == "__main__":
    unittest.main()
