import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from trainer.data import eval_users, read_dataset
from trainer.evaluate import evaluate, model_scorer
from trainer.export import load_checkpoint
from trainer.model import NEG_INF, Attention, ModelConfig, PreferenceModel, base_loss, contrastive_loss, masked_scores
from trainer.tests.helpers import taste_world, train_small, trainer_refusing

softplus = lambda x: math.log1p(math.exp(-x))   # -log sigmoid(x)


def tiny_model(tokens=3, dtype=torch.float32):
    torch.manual_seed(0)
    model = PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, decoder_layers=1, preference_tokens=tokens, dropout=0.0))
    # Non-zero per-user weights, so the tests exercise that path too.
    torch.nn.init.normal_(model.user_weights.weight, std=0.1)
    return model.to(dtype).eval()


class Losses(unittest.TestCase):
    def test_contrastive_loss_by_hand(self):
        pos = torch.tensor([[[2.0, 0.5]]])     # [M+, M-] of the liked target
        neg = torch.tensor([[[0.0, 1.5]]])     # of the disliked target
        mask = torch.tensor([[True]])
        # L+ = -log s(2.0 - 0.0); L- = -log s(1.5 - 0.5)
        self.assertAlmostEqual(contrastive_loss(pos, neg, mask).item(), softplus(2.0) + softplus(1.0), places=6)

    def test_base_loss_by_hand(self):
        pos = torch.tensor([[[2.0, 0.5]]])
        neg = torch.tensor([[[0.0, 1.5]]])
        mask = torch.tensor([[True]])
        # cross-entropy of like (class 0) on pos, and of dislike (class 1) on neg, averaged
        expected = 0.5 * (softplus(2.0 - 0.5) + softplus(1.5 - 0.0))
        self.assertAlmostEqual(base_loss(pos, neg, mask).item(), expected, places=6)

    def test_a_batch_of_choices_alone_has_no_base_loss_and_trains(self):
        pos = torch.tensor([[[2.0, 0.5]]], requires_grad=True)
        neg = torch.tensor([[[0.0, 1.5]]], requires_grad=True)
        loss = base_loss(pos, neg, torch.tensor([[False]])) + contrastive_loss(pos, neg, torch.tensor([[True]]))
        self.assertAlmostEqual(loss.item(), softplus(2.0) + softplus(1.0), places=6)
        loss.backward()
        self.assertTrue(torch.isfinite(pos.grad).all() and pos.grad.abs().sum() > 0)

    def test_padding_pairs_do_not_count(self):
        pos = torch.tensor([[[2.0, 0.5], [9.0, -9.0]]])
        neg = torch.tensor([[[0.0, 1.5], [-9.0, 9.0]]])
        mask = torch.tensor([[True, False]])
        self.assertAlmostEqual(contrastive_loss(pos, neg, mask).item(), softplus(2.0) + softplus(1.0), places=6)

    def test_gradients_match_finite_differences(self):
        torch.manual_seed(1)
        logits = (torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True), torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True))
        mask = torch.tensor([[True, True, False], [True, False, False]])
        total = lambda p, n: base_loss(p, n, mask) + contrastive_loss(p, n, mask)
        self.assertTrue(torch.autograd.gradcheck(total, logits))
        model = tiny_model(dtype=torch.float64)
        h = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
        c = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
        labels = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0]])
        hmask = torch.tensor([[True, True, True, True], [True, True, False, False]])
        self.assertTrue(torch.autograd.gradcheck(lambda h, c: model(h, labels, hmask, c)[0], (h, c)))


class Invariances(unittest.TestCase):
    """The properties CONTRACTS.md section 3 asks of the model, on the PyTorch side."""

    def setUp(self):
        torch.manual_seed(2)
        self.model = tiny_model()
        self.h = torch.randn(1, 5, 6)
        self.labels = torch.tensor([[1, 0, 1, 1, 0]])
        self.mask = torch.ones(1, 5, dtype=torch.bool)
        self.c = torch.randn(1, 4, 6)

    def run_model(self, h, labels, mask, c):
        with torch.no_grad():
            return self.model(h, labels, mask, c)

    def test_a_candidate_does_not_depend_on_the_others(self):
        logits, _ = self.run_model(self.h, self.labels, self.mask, self.c)
        alone, _ = self.run_model(self.h, self.labels, self.mask, self.c[:, 2:3])
        reversed_, _ = self.run_model(self.h, self.labels, self.mask, self.c.flip(1))
        torch.testing.assert_close(alone[0, 0], logits[0, 2])
        torch.testing.assert_close(reversed_.flip(1), logits)

    def test_history_order_does_not_matter(self):
        logits, user = self.run_model(self.h, self.labels, self.mask, self.c)
        order = torch.tensor([3, 0, 4, 1, 2])
        logits2, user2 = self.run_model(self.h[:, order], self.labels[:, order], self.mask, self.c)
        torch.testing.assert_close(logits2, logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(user2, user, atol=1e-5, rtol=1e-5)

    def test_padding_changes_nothing(self):
        logits, user = self.run_model(self.h, self.labels, self.mask, self.c)
        h = torch.cat([self.h, torch.tensor([[[1e4] * 6, [float("nan")] * 6, [-1e30] * 6]])], dim=1)
        labels = torch.cat([self.labels, torch.tensor([[1, 0, 1]])], dim=1)
        mask = torch.cat([self.mask, torch.zeros(1, 3, dtype=torch.bool)], dim=1)
        logits2, user2 = self.run_model(h, labels, mask, self.c)
        torch.testing.assert_close(logits2, logits)
        torch.testing.assert_close(user2, user)


class MaskedScores(unittest.TestCase):
    def test_float16_masks_at_its_lowest_value(self):
        # Before masked_scores, float16 (bench:torch --half, on a GPU) failed: -1e9 overflows it.
        scores = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float16)
        masked = masked_scores(scores, torch.tensor([[True, False, True]]))
        self.assertEqual(masked.tolist(), [[1.0, torch.finfo(torch.float16).min, 3.0]])

    def test_float32_masks_at_neg_inf_as_before(self):
        masked = masked_scores(torch.tensor([[1.0, 2.0]]), torch.tensor([[False, True]]))
        self.assertEqual(masked.tolist(), [[NEG_INF, 2.0]])


class ShortTraining(unittest.TestCase):
    def test_beats_random_on_users_it_never_saw(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=120, first_user=0)
        taste_world(os.path.join(root, "test"), users=40, first_user=1000)
        out = os.path.join(root, "model")
        subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "train"), "--out", out,
                        "--epochs", "3", "--width", "32", "--quiet"], check=True)
        for name in ("model.onnx", "ckpt.pt", "metrics.json"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        model, checkpoint = load_checkpoint(os.path.join(out, "ckpt.pt"))
        self.assertEqual(checkpoint["config"]["embedding_dim"], 8)
        test = read_dataset(os.path.join(root, "test"))
        result = evaluate(model_scorer(model, test.vectors), eval_users(test))
        self.assertGreater(result["users"], 20)
        self.assertGreater(result["pairwise"], 65.0)   # random is 50

        # Warm start (the nightly fine-tune): continues from the checkpoint, and says so.
        tuned = os.path.join(root, "tuned")
        subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "train"), "--out", tuned,
                        "--epochs", "1", "--init", os.path.join(out, "ckpt.pt"), "--quiet"], check=True)
        _, tuned_checkpoint = load_checkpoint(os.path.join(tuned, "ckpt.pt"))
        self.assertEqual(tuned_checkpoint["init"], os.path.join(out, "ckpt.pt"))
        self.assertEqual(tuned_checkpoint["config"], checkpoint["config"])
        # A checkpoint for other vectors is refused with a message naming the flag.
        taste_world(os.path.join(root, "other"), users=20, dim=5)
        refused = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "other"), "--out", tuned,
                                  "--init", os.path.join(out, "ckpt.pt"), "--quiet"], capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("--init: checkpoint expects item vectors of dim 8, data has 5", refused.stderr)


class FineTuneLearningRate(unittest.TestCase):
    """--init-lr: a fine-tune's warm-started network climbs to its own largest learning rate, not
    --lr; the cross-fit's fold networks, which start fresh, keep --lr."""

    @classmethod
    def setUpClass(cls):
        # One first model for every test to fine-tune (each writes its own output folder).
        cls.root = tempfile.mkdtemp()
        taste_world(os.path.join(cls.root, "data"), users=60, seed=3)
        cls.first, _ = train_small(cls.root, "first", "--epochs", "1")

    def largest_change(self, tuned):
        """The largest change of any of the network's weights from the first model's to `tuned`'s."""
        _, first = load_checkpoint(os.path.join(self.root, "first", "ckpt.pt"))
        _, after = load_checkpoint(os.path.join(self.root, tuned, "ckpt.pt"))
        return max(float((after["state_dict"][name] - weights).abs().max()) for name, weights in first["state_dict"].items()
                   if weights.is_floating_point())

    def test_the_warm_network_trains_at_its_own_rate(self):
        root = self.root
        self.assertIsNone(self.first["init_lr"])
        warm = ["--init", os.path.join(root, "first", "ckpt.pt"), "--epochs", "1"]
        at_lr, _ = train_small(root, "at-lr", *warm)
        still, _ = train_small(root, "still", *warm, "--init-lr", "1e-9")
        self.assertEqual((at_lr["lr"], at_lr["init_lr"]), (3e-3, 3e-3))
        self.assertEqual(still["init_lr"], 1e-9)
        self.assertGreater(self.largest_change("at-lr"), 1e-3)
        self.assertLess(self.largest_change("still"), 1e-6)

    def test_the_fold_networks_keep_lr(self):
        root = self.root
        crossfit = ["--init", os.path.join(root, "first", "ckpt.pt"), "--item-rates", "crossfit", "--crossfit-networks", "1",
                    "--crossfit-epochs", "2", "--epochs", "1"]
        # With --init-lr tiny the fold network's loss still falls from its first epoch to its second
        # (by 0.55 here; it rose by 0.02 when the fold network took --init-lr): it trains at --lr.
        # The loss of each run's epochs is in the progress lines.
        _, printed = train_small(root, "folds", *crossfit, "--init-lr", "1e-9", "--lr", "1e-2")
        losses = [float(line.split("loss ")[1].split()[0]) for line in printed.splitlines() if line.startswith("cross-fit 1/1 epoch")]
        self.assertEqual(len(losses), 2, printed)
        self.assertLess(losses[1], losses[0] - 0.1)

    def test_refused_without_a_warm_start_or_above_zero(self):
        refused = trainer_refusing("--init-lr", "1e-4")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("--init-lr: the learning rate of a warm start", refused.stderr)
        refused = trainer_refusing("--init", "nowhere.pt", "--init-lr", "0")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("--init-lr: must be above 0, got 0.0", refused.stderr)


class GlobalFloor(unittest.TestCase):
    """--global-floor: with no history the model is the global scorer; the personal terms come
    in as n / (n + k) of themselves, and the contract's invariances still hold."""

    def model(self):
        torch.manual_seed(0)
        m = PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, decoder_layers=1,
                                        preference_tokens=3, dropout=0.0, global_floor=True))
        torch.nn.init.normal_(m.user_weights.weight, std=0.1)
        return m.eval()

    def test_no_history_scores_as_the_global_scorer(self):
        m = self.model()
        candidates = torch.randn(2, 5, 6)
        history = torch.randn(2, 4, 6)
        labels = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]])
        mask = torch.zeros(2, 4, dtype=torch.bool)
        with torch.no_grad():
            logits, _ = m(history, labels, mask, candidates)
            q = torch.softmax(logits, -1)[..., 0]
            expected = torch.sigmoid(m.global_score(candidates)[..., 0])
        self.assertLess((q - expected).abs().max().item(), 1e-6)

    def test_history_moves_it_by_the_gate(self):
        m = self.model()
        candidates = torch.randn(1, 5, 6)
        history = torch.randn(1, 4, 6)
        labels = torch.tensor([[1, 0, 1, 0]])
        mask = torch.ones(1, 4, dtype=torch.bool)
        with torch.no_grad():
            logits, _ = m(history, labels, mask, candidates)
            memory, mmask, pooled, _, taste = m.encode(history, labels, mask)
            personal = m.score(memory, mmask, pooled, taste, candidates)
            gate = 4 / (4 + torch.nn.functional.softplus(m.history_scale))
            g = m.global_score(candidates)
            expected = g * torch.tensor([0.5, -0.5]) + gate * personal
        self.assertLess((logits - expected).abs().max().item(), 1e-6)
        # Padding and order change nothing.
        padded = torch.cat([history, torch.full((1, 2, 6), float("nan"))], 1)
        with torch.no_grad():
            again, _ = m(padded, torch.cat([labels, torch.zeros(1, 2, dtype=torch.long)], 1), torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1), candidates)
            shuffled, _ = m(history[:, [2, 0, 3, 1]], labels[:, [2, 0, 3, 1]], mask, candidates)
        self.assertLess((again - logits).abs().max().item(), 1e-5)
        self.assertLess((shuffled - logits).abs().max().item(), 1e-5)


class UserFit(unittest.TestCase):
    """--user-fit: the user's own logistic regression, pulled towards the global weights, fitted
    inside the model by unrolled gradient steps."""

    def model(self, steps=60):
        torch.manual_seed(0)
        m = PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=1, decoder_layers=1,
                                        preference_tokens=3, dropout=0.0, user_fit_steps=steps))
        return m.double().eval()

    def test_the_steps_reach_the_per_user_baselines_solution(self):
        from trainer.baselines import fit_logistic
        m = self.model()
        rng = np.random.default_rng(3)
        x = rng.normal(size=(10, 6))
        y = (rng.random(10) < 0.5).astype(np.int64)
        prior = np.concatenate([m.fit_prior.weight[0].detach().numpy(), m.fit_prior.bias.detach().numpy()])
        pull = torch.nn.functional.softplus(m.fit_pull).item()
        exact = fit_logistic(x, y, l2=pull, prior=prior, steps=50)
        # Two padded slots, holding anything, change nothing.
        h = torch.cat([torch.from_numpy(x), torch.full((2, 6), 1e6, dtype=torch.float64)])[None]
        labels = torch.from_numpy(np.concatenate([y, [1, 1]]))[None]
        mask = torch.tensor([[True] * 10 + [False] * 2])
        with torch.no_grad():
            fitted = m.fit_user(h, labels, mask)[0].numpy()
        np.testing.assert_allclose(fitted, exact, atol=1e-6)

    def test_with_no_history_the_fit_is_the_global_weights(self):
        m = self.model()
        with torch.no_grad():
            w = m.fit_user(torch.randn(2, 4, 6, dtype=torch.float64), torch.ones(2, 4, dtype=torch.long), torch.zeros(2, 4, dtype=torch.bool))
        expected = torch.cat([m.fit_prior.weight[0], m.fit_prior.bias])
        torch.testing.assert_close(w, expected.expand(2, -1))

    def test_the_pull_and_the_global_weights_learn_through_the_steps(self):
        m = self.model(steps=10).train()
        h = torch.randn(2, 5, 6, dtype=torch.float64)
        labels = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 1, 1]])
        mask = torch.ones(2, 5, dtype=torch.bool)
        logits, _ = m(h, labels, mask, torch.randn(2, 3, 6, dtype=torch.float64))
        logits[..., 0].sum().backward()
        self.assertGreater(m.fit_pull.grad.abs().item(), 0)
        self.assertGreater(m.fit_prior.weight.grad.abs().sum().item(), 0)

    def test_order_and_padding_change_nothing(self):
        m = self.model(steps=20)
        h = torch.randn(1, 5, 6, dtype=torch.float64)
        labels = torch.tensor([[1, 0, 1, 1, 0]])
        mask = torch.ones(1, 5, dtype=torch.bool)
        c = torch.randn(1, 4, 6, dtype=torch.float64)
        with torch.no_grad():
            logits, _ = m(h, labels, mask, c)
            order = [3, 0, 4, 1, 2]
            shuffled, _ = m(h[:, order], labels[:, order], mask, c)
            padded, _ = m(torch.cat([h, torch.full((1, 2, 6), float("nan"), dtype=torch.float64)], 1),
                          torch.cat([labels, torch.tensor([[1, 0]])], 1), torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1), c)
        torch.testing.assert_close(shuffled, logits)
        torch.testing.assert_close(padded, logits)


class CrossTokenAttention(unittest.TestCase):
    """--token-attention cross (the paper's): the history queries the tokens, which no user
    writes to; the contract's invariances hold."""

    def model(self):
        torch.manual_seed(0)
        return PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, encoder_layers=2, decoder_layers=1,
                                           preference_tokens=3, dropout=0.0, token_attention="cross")).eval()

    def test_the_tokens_are_read_not_written_by_the_history(self):
        m = self.model()
        with torch.no_grad():
            a = m.encode(torch.randn(1, 4, 6), torch.tensor([[1, 0, 1, 0]]), torch.ones(1, 4, dtype=torch.bool))
            b = m.encode(torch.randn(1, 4, 6), torch.tensor([[0, 0, 1, 1]]), torch.ones(1, 4, dtype=torch.bool))
        torch.testing.assert_close(a[0][:, :3], b[0][:, :3])          # the tokens' part of the memory
        self.assertGreater((a[0][:, 3:] - b[0][:, 3:]).abs().max().item(), 1e-3)

    def test_order_padding_and_other_candidates_change_nothing(self):
        m = self.model()
        h, labels, mask, c = torch.randn(1, 5, 6), torch.tensor([[1, 0, 1, 1, 0]]), torch.ones(1, 5, dtype=torch.bool), torch.randn(1, 4, 6)
        with torch.no_grad():
            logits, user = m(h, labels, mask, c)
            order = [3, 0, 4, 1, 2]
            shuffled, user2 = m(h[:, order], labels[:, order], mask, c)
            padded, user3 = m(torch.cat([h, torch.full((1, 2, 6), float("nan"))], 1), torch.cat([labels, torch.tensor([[1, 0]])], 1),
                              torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1), c)
            alone, _ = m(h, labels, mask, c[:, 2:3])
        torch.testing.assert_close(shuffled, logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(user2, user, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(padded, logits)
        torch.testing.assert_close(user3, user)
        torch.testing.assert_close(alone[0, 0], logits[0, 2])

    def test_memory_shared_by_every_user_is_attended_as_if_each_user_had_a_copy(self):
        # The tokens' memory is [K, W], read by all users with one product per head; it must give
        # each user what attending to their own copy gives, masks aside (the tokens are all read).
        torch.manual_seed(1)
        attention = Attention(16, 4, dropout=0.0)
        x, memory = torch.randn(3, 5, 16), torch.randn(7, 16)
        copies = memory.expand(3, -1, -1)
        with torch.no_grad():
            torch.testing.assert_close(attention(x, memory, None), attention(x, copies, torch.ones(3, 7, dtype=torch.bool)))

    def test_an_unknown_mode_is_refused_by_name(self):
        with self.assertRaisesRegex(ValueError, "token_attention"):
            PreferenceModel(ModelConfig(embedding_dim=6, width=16, heads=2, token_attention="both"))


if __name__ == "__main__":
    unittest.main()
