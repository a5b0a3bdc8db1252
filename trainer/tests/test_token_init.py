import os
import tempfile
import unittest

import numpy as np
import torch

from trainer.model import ModelConfig, PreferenceModel
from trainer.tests.helpers import taste_world, train_small, trainer_refusing
from trainer.tests.test_latent_classes import two_groups
from trainer.token_init import class_tastes, set_token_tastes


def network(dim=2, tokens=2, seed=0):
    torch.manual_seed(seed)
    return PreferenceModel(ModelConfig(embedding_dim=dim, width=16, heads=2, preference_tokens=tokens, token_attention="cross"))


class TokenTastes(unittest.TestCase):
    def test_the_tokens_tastes_become_the_ones_given(self):
        model = network(dim=5, tokens=3)
        tastes = np.random.default_rng(1).normal(size=(3, 6)) * 4
        set_token_tastes(model, tastes)
        np.testing.assert_allclose(model.token_taste(model.tokens).detach().numpy(), tastes, atol=1e-4)
        # The tokens at unit spread, so the map onto the tastes is not 50 times them (0.02 at the start).
        self.assertAlmostEqual(float(model.tokens.std()), 1.0, places=5)
        self.assertLess(float(model.token_taste.weight.abs().max()), 10 * float(np.abs(tastes).max()))

    def test_tastes_of_another_shape_are_refused_naming_them(self):
        with self.assertRaisesRegex(ValueError, r"tastes: expected shape \(2, 3\)"):
            set_token_tastes(network(), np.zeros((3, 3)))

    def test_the_classes_are_fitted_on_the_users_given_only(self):
        data = two_groups()
        everyone = class_tastes(data, sorted(data.users), 2, seed=0)
        self.assertLess(everyone[0, 0] * everyone[1, 0], 0)          # the two groups' opposite tastes
        group_0 = [u for u in sorted(data.users) if int(u[1:]) % 2 == 0]
        self.assertTrue((class_tastes(data, group_0, 2, seed=0)[:, 0] > 0).all())   # group 0's alone

    def test_an_untrained_network_reads_the_classes_from_the_history(self):
        # Before any training the tokens' mixture is EM's: a history of one group's likes and
        # dislikes puts it on that group's class, which ranks that group's items first.
        data = two_groups()
        classes = class_tastes(data, sorted(data.users), 2, seed=0)
        model = network()
        set_token_tastes(model, classes)
        order = np.argsort(data.vectors[:, 0])
        history = torch.from_numpy(data.vectors[np.r_[order[-4:], order[:4]]]).unsqueeze(0)
        for labels in ([1] * 4 + [0] * 4, [0] * 4 + [1] * 4):
            _, taste = model.token_mixture(history, torch.tensor([labels]), torch.ones(1, 8, dtype=torch.bool))
            likes_high = labels[0] == 1
            own = classes[int(np.argmax(classes[:, 0]) if likes_high else np.argmin(classes[:, 0]))]
            np.testing.assert_allclose(taste[0].detach().numpy(), own, atol=0.1 * np.linalg.norm(own))


class Trainer(unittest.TestCase):
    def test_the_trainer_starts_its_tokens_from_the_classes_and_says_so(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=60, seed=2)
        metrics, _ = train_small(root, "m", "--token-init", "classes", "--token-attention", "cross")
        self.assertEqual(metrics["token_init"], "classes")
        self.assertTrue(all(np.isfinite(e["loss"]) for e in metrics["epochs"]))
        # The tokens set from the classes are at unit spread (random ones start at 0.02), and two
        # short epochs leave them there: the trainer did start its network from the classes.
        state = torch.load(os.path.join(root, "m", "ckpt.pt"), map_location="cpu")["state_dict"]
        tokens = next(v for name, v in state.items() if name.split(".")[-1] == "tokens")
        self.assertGreater(float(tokens.std()), 0.5)

    def test_it_is_refused_without_tokens_and_beside_a_warm_start(self):
        done = trainer_refusing("--token-init", "classes", "--tokens", "0")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--token-init classes: the classes start the preference tokens' tastes, and --tokens 0 leaves none", done.stderr)
        done = trainer_refusing("--token-init", "classes", "--init", "ckpt.pt")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--token-init classes: --init starts from a trained checkpoint's tokens", done.stderr)


if __name__ == "__main__":
    unittest.main()
