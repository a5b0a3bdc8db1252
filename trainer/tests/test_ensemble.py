"""trainer/ensemble.py and `trainer.train --ensemble`: the network averaged with the per-user
regression, the weight chosen on validation users."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from trainer import baselines
from trainer.data import eval_users, read_dataset, subset
from trainer.evaluate import evaluate
from trainer.ensemble import attach_regression, choose_weight, log_odds_scorer, weight_from_margins, weight_users
from trainer.export import load_checkpoint
from trainer.model import ModelConfig, PreferenceModel
from trainer.tests.helpers import taste_world, write_dataset


def network(dim=6, seed=0, **config):
    torch.manual_seed(seed)
    m = PreferenceModel(ModelConfig(**{"embedding_dim": dim, "width": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                                       "preference_tokens": 3, "dropout": 0.0, **config}))
    torch.nn.init.normal_(m.user_weights.weight, std=0.3)   # a network whose scores are far from the regression's
    return m.eval()


def log_odds(m, h, labels, mask, c):
    with torch.no_grad():
        logits, user = m(h, labels, mask, c)
    return (logits[..., 0] - logits[..., 1]).double(), user


class AttachRegression(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(4)
        self.prior = rng.normal(size=7)                           # 6 weights, then the bias
        self.h = torch.from_numpy(rng.normal(size=(1, 10, 6))).float()
        self.labels = torch.from_numpy((rng.random((1, 10)) < 0.5).astype(np.int64))
        self.mask = torch.ones(1, 10, dtype=torch.bool)
        self.c = torch.from_numpy(rng.normal(size=(1, 5, 6))).float()

    def test_the_weights_mix_the_networks_and_the_regressions_log_odds(self):
        m = network()
        net, user = log_odds(m, self.h, self.labels, self.mask, self.c)
        # Weight 1 is the per-user regression of the baselines, pulled by the shrink towards the prior.
        reg, _ = log_odds(attach_regression(m, self.prior, 3.0, 1.0), self.h, self.labels, self.mask, self.c)
        w = baselines.fit_logistic(self.h[0].double().numpy(), self.labels[0].numpy(), l2=3.0, prior=self.prior, steps=50)
        expected = np.hstack([self.c[0].double().numpy(), np.ones((5, 1))]) @ w
        np.testing.assert_allclose(reg[0].numpy(), expected, atol=2e-3)
        self.assertGreater(float((reg - net).abs().max()), 0.5)   # the two parts differ: the mix is seen
        for weight in (0.0, 0.25, 0.5):
            mixed, mixed_user = log_odds(attach_regression(m, self.prior, 3.0, weight), self.h, self.labels, self.mask, self.c)
            torch.testing.assert_close(mixed, (1 - weight) * net + weight * reg, atol=1e-5, rtol=0)
            torch.testing.assert_close(mixed_user, user)           # the user embedding stays the network's

    def test_the_original_model_is_untouched_and_the_regression_does_not_train(self):
        m = network()
        before = {k: v.clone() for k, v in m.state_dict().items()}
        e = attach_regression(m, self.prior, 1.0, 0.5)
        self.assertFalse(e.fit_pull.requires_grad)
        self.assertAlmostEqual(torch.nn.functional.softplus(e.fit_pull).item(), 1.0, places=5)
        for k, v in m.state_dict().items():
            torch.testing.assert_close(v, before[k])
        self.assertEqual(m.config.regression_weight, 0.0)

    def test_a_model_that_fits_the_user_inside_is_refused(self):
        with self.assertRaisesRegex(ValueError, "--user-fit"):
            attach_regression(network(user_fit_steps=5), self.prior, 1.0, 0.5)
        with self.assertRaisesRegex(ValueError, "regression_weight"):
            PreferenceModel(ModelConfig(embedding_dim=6, regression_weight=0.5))


class ChooseWeight(unittest.TestCase):
    def test_validation_users_give_the_weight_to_the_part_that_knows_them(self):
        # Users who each like the items on their own random side: no group to borrow from, so an
        # untrained network is chance and the user's own regression is what scores.
        root = tempfile.mkdtemp()
        taste_world(root, users=60, groups=60, per_user=40, seed=2)
        data = read_dataset(root)
        users = eval_users(data)
        weight, results = choose_weight(network(dim=8), np.zeros(9), 1.0, users, data.vectors)
        self.assertGreater(weight, 0.8)
        self.assertEqual(set(results), {weight, 0.0, 0.25, 0.5, 0.75, 1.0})
        self.assertGreater(results[1.0]["pairwise"], results[0.0]["pairwise"] + 15)
        scored = evaluate(log_odds_scorer(attach_regression(network(dim=8), np.zeros(9), 1.0, 1.0), data.vectors), users)
        self.assertAlmostEqual(scored["pairwise"], results[1.0]["pairwise"])

    def test_given_weights_the_best_by_accuracy_and_a_tie_to_the_first(self):
        # A network that scores every item 0: every weight above 0 ranks as the regression does.
        root = tempfile.mkdtemp()
        taste_world(root, users=20, groups=2, per_user=40)
        data = read_dataset(root)
        flat = network(dim=8, preference_tokens=0)
        for layer in (flat.head, flat.user_weights):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        weight, results = choose_weight(flat, np.zeros(9), 1.0, eval_users(data), data.vectors, weights=(0.0, 0.75, 0.25, 1.0))
        self.assertEqual(results[0.75]["pairwise"], results[1.0]["pairwise"])
        self.assertGreater(results[0.75]["pairwise"], results[0.0]["pairwise"])
        self.assertEqual(weight, 0.75)


class WeightUsers(unittest.TestCase):
    """The weight is fitted at the tenant's EVAL-1(n), not at the shorter n a small validation split
    falls back to."""

    def world(self, long_validation_users):
        """(dataset, training ids, validation ids): 200 training users (u*) with 10 likes and 10
        dislikes; 60 validation users (v*) with 5 and 5, except the first `long_validation_users`,
        who have 10 and 10."""
        rows = []
        for u in range(260):
            name = f"u{u:03d}" if u < 200 else f"v{u - 200:02d}"
            per_kind = 10 if u < 200 or u - 200 < long_validation_users else 5
            rows += [[name, f"i{(u + k) % 50}", int(k < per_kind), k, ""] for k in range(2 * per_kind)]
        root = tempfile.mkdtemp()
        write_dataset(root, np.eye(50, 4, dtype=np.float32), [f"i{k}" for k in range(50)], rows)
        dataset = read_dataset(root)
        return dataset, sorted(u for u in dataset.users if u.startswith("u")), sorted(u for u in dataset.users if u.startswith("v"))

    def test_the_tenants_n_where_some_validation_users_have_it(self):
        dataset, train_ids, val_ids = self.world(long_validation_users=12)
        val_users = eval_users(subset(dataset, val_ids), 4)
        self.assertEqual(len(val_users), 60)              # the split's own n would be 4: 60 users have it
        n, users = weight_users(dataset, train_ids, val_ids, 4, val_users)
        self.assertEqual((n, sorted(u.user for u in users)), (8, [f"v{k:02d}" for k in range(12)]))
        self.assertTrue(all(len(u.history) == 16 for u in users))

    def test_the_splits_own_users_where_none_has_it(self):
        dataset, train_ids, val_ids = self.world(long_validation_users=0)
        val_users = eval_users(subset(dataset, val_ids), 4)
        self.assertEqual(weight_users(dataset, train_ids, val_ids, 4, val_users), (4, val_users))


class WeightFromMargins(unittest.TestCase):
    """The weight's posterior mean from pairs, each user counted once."""

    def setUp(self):
        rng = np.random.default_rng(0)
        self.truth = rng.normal(size=4000)                     # each pair's true margin
        self.wins = rng.random(4000) < 1 / (1 + np.exp(-self.truth))
        self.noise = rng.normal(size=(2, 4000))

    def pairs(self, network, regression, n=4000):
        # Only won pairs are observed as (like, dislike); a lost one is the same pair reversed.
        sign = np.where(self.wins, 1.0, -1.0)[:n]
        return sign * network[:n], sign * regression[:n]

    def test_the_part_that_carries_the_signal_gets_the_weight(self):
        self.assertGreater(weight_from_margins(*self.pairs(self.noise[0], self.truth)), 0.9)
        self.assertLess(weight_from_margins(*self.pairs(self.truth, self.noise[0])), 0.1)

    def test_two_equally_good_parts_on_different_scales_share_it_by_scale(self):
        # Each part sees the truth with its own noise; the regression's margins are 3 times larger,
        # so its weight is a third of the network's for an even mix of the two.
        net, reg = self.truth + self.noise[0], 3 * (self.truth + self.noise[1])
        w = weight_from_margins(*self.pairs(net, reg))
        self.assertAlmostEqual(w / (1 - w), 1 / 3, delta=0.08)

    def test_few_users_keep_it_near_the_even_average(self):
        # The same 4,000 pairs as 4,000 users, then as 20 users of 200 pairs: the regression
        # carries more of the signal, and only the many users move the weight far towards it.
        net, reg = self.truth + 2 * self.noise[0], self.truth + self.noise[1]
        many = weight_from_margins(*self.pairs(net, reg))
        few = weight_from_margins(*self.pairs(net, reg), pair_users=np.repeat(np.arange(20), 200))
        self.assertGreater(many, 0.7)
        self.assertLess(abs(few - 0.5), abs(many - 0.5))

    def test_no_pairs_or_no_signal_give_the_even_average(self):
        self.assertEqual(weight_from_margins(np.array([]), np.array([])), 0.5)
        self.assertEqual(weight_from_margins(*self.pairs(-self.truth, -self.truth)), 0.5)


class TrainWithEnsemble(unittest.TestCase):
    def test_the_trainer_exports_the_ensemble_and_says_what_it_chose(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=120)
        out = os.path.join(root, "m")
        run = lambda *a: subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "train"), *a],
                                        capture_output=True, text=True)
        done = run("--out", out, "--epochs", "1", "--width", "32", "--ensemble", "auto", "--val-share", "0.3")
        self.assertEqual(done.returncode, 0, done.stderr)
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        e = metrics["ensemble"]
        self.assertTrue(0.0 <= e["weight"] <= 1.0)
        self.assertIn(e["shrink"], baselines.SHRINK_GRID)
        self.assertLessEqual({"0.5", "0.25", "0.75", "0.0", "1.0"}, set(e["val_pairwise_by_weight"]))
        # The weight is fitted at the tenant's EVAL-1(n) (8 here, chosen on the training users), the
        # validation figures are at the validation users' own n; where the two agree, what the model
        # reports is what the exported ensemble scored on them.
        self.assertEqual((e["history_size"], metrics["val_history_size"]), (8, 8))
        self.assertAlmostEqual(metrics["val_pairwise"], e["val_pairwise_by_weight"][str(e["weight"])], places=1)
        self.assertIn("network_val_pairwise", metrics)
        model, checkpoint = load_checkpoint(os.path.join(out, "ckpt.pt"))
        if e["weight"]:
            self.assertEqual(checkpoint["config"]["regression_weight"], e["weight"])
            self.assertAlmostEqual(torch.nn.functional.softplus(model.fit_pull).item(), e["shrink"], places=4)

        # Fine-tuning an ensemble trains the network alone and chooses the weight again.
        tuned = os.path.join(root, "tuned")
        done = run("--out", tuned, "--epochs", "1", "--init", os.path.join(out, "ckpt.pt"), "--ensemble", "0.5", "--val-share", "0.3")
        self.assertEqual(done.returncode, 0, done.stderr)
        _, tuned_checkpoint = load_checkpoint(os.path.join(tuned, "ckpt.pt"))
        self.assertEqual(tuned_checkpoint["config"]["regression_weight"], 0.5)
        self.assertEqual(json.load(open(os.path.join(tuned, "metrics.json")))["ensemble"]["selected_by"], "--ensemble")

        # Bad values are refused, naming the flag.
        for bad, message in ((("--ensemble", "1.5"), "--ensemble: expected a weight in [0, 1], got 1.5"),
                             (("--ensemble", "most"), "--ensemble: expected off, auto or a weight in [0, 1], got 'most'"),
                             (("--ensemble", "auto", "--user-fit", "5"), "--ensemble and --user-fit")):
            refused = run("--out", os.path.join(root, "x"), *bad)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn(message, refused.stderr)
        self.assertFalse(math.isnan(metrics["val_pairwise"]))


if __name__ == "__main__":
    unittest.main()
