import unittest

import numpy as np

from trainer import baselines
from trainer.bench_stack_ceiling import CO_LIKE_WEIGHTS, NETWORK_WEIGHTS, USER_KNN_WEIGHTS, mixed


def constant(values):
    return lambda h_items, h_labels, candidates: np.array(values, float)[candidates]


class Mixed(unittest.TestCase):
    def test_the_mix_is_the_weighted_sum_of_the_four_parts_at_the_chosen_shrink(self):
        regression_and_rate = {1.0: constant([9.0, 9.0, 9.0]), 10.0: constant([0.2, 0.4, -0.6])}
        parts = (constant([1.0, -1.0, 0.5]), constant([-0.5, 0.25, 1.0]), constant([0.3, -0.9, 0.1]))
        candidates = np.array([0, 1, 2])
        np.testing.assert_allclose(mixed(regression_and_rate, parts, (10.0, 0.5, 4.0, 2.0))([], [], candidates),
                                   0.5 * np.array([1.0, -1.0, 0.5]) + np.array([0.2, 0.4, -0.6]) + 4.0 * np.array([-0.5, 0.25, 1.0])
                                   + 2.0 * np.array([0.3, -0.9, 0.1]))

    def test_without_the_network_the_grid_holds_every_weight_of_the_best_baseline(self):
        # So the ceiling is never below the best baseline pairwise: a = 0 and its c and u are among the mixes.
        self.assertIn(0.0, NETWORK_WEIGHTS)
        self.assertTrue({0.0, *baselines.CO_LIKE_WEIGHTS} <= set(CO_LIKE_WEIGHTS))
        self.assertTrue({0.0, *baselines.USER_KNN_WEIGHTS} <= set(USER_KNN_WEIGHTS))
        never = constant([float("nan")] * 3)
        parts = (never, constant([-0.5, 0.25, 1.0]), None)     # a tenant without user-kNN
        np.testing.assert_allclose(mixed({3.0: constant([0.2, 0.4, -0.6])}, parts, (3.0, 0.0, 2.0, 0.0))([], [], np.array([2, 0])),
                                   [-0.6 + 2.0, 0.2 - 1.0])


if __name__ == "__main__":
    unittest.main()
