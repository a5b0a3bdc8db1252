import unittest

import numpy as np

from trainer.sampled_learner import SampledLearner, row_chances, sample_tastes, sigmoid, style_references
from trainer.tests.helpers import world_truth


class Posterior(unittest.TestCase):
    def test_no_history_scores_the_prior_mean_and_a_long_one_the_group_that_made_its_labels(self):
        rng = np.random.default_rng(0)
        latent = rng.normal(size=(40, 2))
        # Group A likes axis 0, group B axis 1, ten training users each.
        tastes = {f"a{k}": np.array([1.0, 0.0]) + 0.05 * rng.normal(size=2) for k in range(10)}
        tastes |= {f"b{k}": np.array([0.0, 1.0]) + 0.05 * rng.normal(size=2) for k in range(10)}
        truth = world_truth(latent, [k % 4 for k in range(40)], q=0.0, tastes=tastes)
        samples = sample_tastes(truth, tastes)
        learner = SampledLearner(truth, samples, single_share=1.0)
        everything = np.arange(40)
        np.testing.assert_allclose(learner.scorer()([], [], everything), learner.like.mean(0), rtol=1e-6)
        history = np.arange(20)
        labels = (latent[history] @ np.array([0.0, 1.0]) > 0).astype(int)
        group_b = np.array([u.startswith("b") for u in sorted(tastes)])
        for pairs in (None, [""] * 20):
            weights = np.exp(learner._log_likelihood(history, labels, pairs))
            self.assertGreater(weights[group_b].sum() / weights.sum(), 0.999)


class Likelihood(unittest.TestCase):
    def test_each_row_counts_as_what_it_was_and_without_pair_ids_as_a_row_of_its_item(self):
        latent = np.array([[1.0, 0.2], [0.4, 1.0], [-0.5, 0.3], [0.8, -0.6], [0.1, 0.1]])
        tastes = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
        truth = world_truth(latent, [0, 0, 0, 1, 1], q=0.3, noise=0.5, tastes=tastes)
        learner = SampledLearner(truth, sample_tastes(truth, tastes), single_share=0.6)
        u = (0.7 * np.stack([tastes["a"], tastes["b"]]) @ latent.T + 0.3 * latent[:, 0])
        single = sigmoid(u / 0.5)
        style = lambda i: [0, 1, 2] if i < 3 else [3, 4]
        choice = np.stack([[sigmoid((u[s, i] - u[s, style(i)]) / 0.5).mean() for i in range(5)] for s in range(2)])
        # Item 1 beat item 0 in pair "p"; item 2 is a single dislike; item 3 won pair "r", whose loser is not here.
        items, labels, pairs = [0, 1, 2, 3], [0, 1, 0, 1], ["p", "p", "", "r"]
        expected = np.log(sigmoid((u[:, 1] - u[:, 0]) / 0.5)) + np.log(1 - single[:, 2]) + np.log(choice[:, 3])
        np.testing.assert_allclose(learner._log_likelihood(items, labels, pairs), expected - expected.max(), rtol=1e-5)
        like = 0.6 * single + 0.4 * choice
        expected = np.log(1 - like[:, 0]) + np.log(like[:, 1]) + np.log(1 - like[:, 2]) + np.log(like[:, 3])
        np.testing.assert_allclose(learner._log_likelihood(items, labels, None), expected - expected.max(), rtol=1e-5)


class OnlyTheImagesAsked(unittest.TestCase):
    def world(self):
        rng = np.random.default_rng(3)
        latent = rng.normal(size=(30, 3))
        tastes = {f"u{k}": rng.normal(size=3) for k in range(6)}
        return world_truth(latent, [k % 3 for k in range(30)], q=0.4, noise=0.3, tastes=tastes), tastes

    def test_chances_for_some_images_are_those_columns_of_every_image_s(self):
        truth, tastes = self.world()
        samples = sample_tastes(truth, tastes)
        whole = row_chances(truth, samples)
        asked = np.array([7, 2, 29, 2, 14])
        for part, full in zip(row_chances(truth, samples, asked), whole):
            np.testing.assert_array_equal(part, full[:, asked])
        learner, everything = SampledLearner(truth, samples, 0.0, asked), SampledLearner(truth, samples, 0.0)
        history, labels, pairs = [7, 2], [1, 0], ["p", "p"]
        for p in (None, pairs):
            np.testing.assert_allclose(learner.scorer(p)(history, labels, [29, 14]), everything.scorer(p)(history, labels, [29, 14]))
        with self.assertRaisesRegex(ValueError, "outside the `items`"):
            learner.scorer()(history, labels, [3])

    def test_a_style_larger_than_the_references_is_averaged_over_a_draw_of_them(self):
        truth, tastes = self.world()
        samples = sample_tastes(truth, tastes)
        refs = style_references(truth, references=4)
        self.assertEqual([len(r) for r in refs], [4, 4, 4])
        for style, r in enumerate(refs):
            self.assertTrue(set(r) <= set(truth["style_items"][style]))
        utility, _, choice = row_chances(truth, samples, references=4)
        i = 5    # of style 2
        expected = sigmoid((utility[:, [i]] - utility[:, refs[2]]) / 0.3).mean(1)
        np.testing.assert_allclose(choice[:, i], expected)
        # Every style holds 10 images: 10 references or more average over all of them.
        np.testing.assert_array_equal(row_chances(truth, samples, references=10)[2], row_chances(truth, samples)[2])


if __name__ == "__main__":
    unittest.main()
