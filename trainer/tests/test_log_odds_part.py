import dataclasses
import unittest

import numpy as np
import torch

from trainer.baselines import low_rank
from trainer.choice_prior import WithChoicePrior, attach_choice_prior
from trainer.co_likes import WithCoLikes, attach_co_likes
from trainer.ensemble import attach_regression
from trainer.item_rates import WithItemRates, attach_item_rates
from trainer.log_odds_part import without_parts
from trainer.network_average import NetworkAverage, build_model, members_of
from trainer.served_latent_classes import WithLatentClasses, attach_latent_classes
from trainer.tests.helpers import small_network

PARTS = (WithItemRates, WithCoLikes, WithLatentClasses, WithChoicePrior)


def stack():
    """Two networks with the regression, and every part around them, in the trainer's order."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 6)).astype(np.float32)
    model = attach_regression(NetworkAverage.of([small_network(0), small_network(1)]), np.linspace(-1, 1, 7), 1.0, 0.5)
    model = attach_item_rates(model, vectors, np.array([2, 4, 6]), np.array([1.0, -1.0, 0.5]), 0.7)
    similarities = rng.uniform(-1, 1, (5, 5)).astype(np.float32)
    model = attach_co_likes(model, vectors, np.arange(5), low_rank(similarities), 1.5, 0.8)
    model = attach_latent_classes(model, rng.normal(size=(3, 7)), np.array([0.5, 0.3, 0.2]), 0.9, 0.6)
    return attach_choice_prior(model, vectors, np.linspace(1, -1, 7), np.arange(12), 0.8, 0.7), vectors


def log_odds(model, history, labels, mask, candidates):
    with torch.no_grad():
        logits, _ = model(history, labels, mask, candidates)
    return logits[..., 0] - logits[..., 1]


class Parts(unittest.TestCase):
    def setUp(self):
        self.model, vectors = stack()
        v = torch.from_numpy(vectors)
        self.inputs = (v[[0, 1, 3, 5]][None], torch.tensor([[1, 0, 1, 0]]), torch.ones(1, 4, dtype=torch.bool), v[[2, 4, 7, 9, 11]][None])

    def parts(self):
        """Each part in the stack, outermost first."""
        model, found = self.model, []
        while not isinstance(model, NetworkAverage):
            found.append(model)
            model = model.inner
        return found

    def test_every_part_serves_its_scale_times_the_model_plus_its_weight_times_its_own_log_odds(self):
        self.assertEqual([type(p) for p in self.parts()], list(reversed(PARTS)))
        for part in self.parts():
            scale = 1.0 if part.SCALE is None else getattr(part.config, part.SCALE)
            with torch.no_grad():
                own = part.part_log_odds(*self.inputs)
            expected = scale * log_odds(part.inner, *self.inputs) + getattr(part.config, part.WEIGHT) * own
            np.testing.assert_allclose(log_odds(part, *self.inputs).numpy(), expected.numpy(), atol=1e-5)
            self.assertGreater(float(own.abs().max()), 0.05, f"{type(part).__name__}: its part is 0 here, the check checks nothing")

    def test_reweighing_a_part_changes_only_its_weight_and_the_scale(self):
        part = self.parts()[1]   # the latent classes: a part with a scale
        before = log_odds(part, *self.inputs)
        with torch.no_grad():
            own = part.part_log_odds(*self.inputs)
        part.reweighed(2.0, 0.3)
        self.assertEqual((part.config.latent_class_weight, part.config.latent_class_scale), (2.0, 0.3))
        np.testing.assert_allclose(log_odds(part, *self.inputs).numpy(),
                                   (0.3 * log_odds(part.inner, *self.inputs) + 2.0 * own).numpy(), atol=1e-5)
        self.assertFalse(torch.allclose(before, log_odds(part, *self.inputs)))

    def test_a_negative_weight_or_scale_and_an_empty_part_are_refused_naming_the_field(self):
        for part in self.parts():
            for field in part.weight_fields():
                with self.assertRaisesRegex(ValueError, f"^{field}: expected a weight >= 0, got -1.0"):
                    type(part)(dataclasses.replace(part.config, **{field: -1.0}))
                with self.assertRaisesRegex(ValueError, f"^{field}: expected a weight >= 0"):
                    part.reweighed(-1.0, 1.0) if field == part.WEIGHT else part.reweighed(1.0, -1.0)
            with self.assertRaisesRegex(ValueError, f"^{part.SIZE}: .* at least 1 .*, got 0"):
                type(part)(dataclasses.replace(part.config, **{part.SIZE: 0}))

    def test_stripped_to_the_networks_and_rebuilt_from_the_config_alone(self):
        self.assertIsInstance(without_parts(self.model), NetworkAverage)
        self.assertEqual(len(members_of(self.model)), 2)
        rates = self.parts()[-1]
        self.assertIs(WithItemRates.stripped(rates), rates.inner)
        for other in PARTS[1:]:   # another part's strip leaves a model as it is
            self.assertIs(other.stripped(rates), rates)
        loaded = build_model(self.model.config)
        loaded.load_state_dict(self.model.state_dict())
        loaded.eval()
        np.testing.assert_allclose(log_odds(loaded, *self.inputs).numpy(), log_odds(self.model, *self.inputs).numpy(), atol=1e-6)


if __name__ == "__main__":
    unittest.main()
