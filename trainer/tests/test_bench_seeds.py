import math
import unittest

import numpy as np

from trainer.bench_seeds import FULL, VARIANTS, extra_variants, paired, per_user_rates


class PairedDifference(unittest.TestCase):
    def test_mean_standard_error_and_interval_over_users_with_both(self):
        a = np.array([60.0, 70.0, 80.0, np.nan])
        b = np.array([50.0, 70.0, 60.0, 40.0])
        p = paired(a, b)
        d = np.array([10.0, 0.0, 20.0])
        se = d.std(ddof=1) / math.sqrt(3)
        self.assertEqual(p["users"], 3)
        self.assertAlmostEqual(p["mean"], 10.0)
        self.assertAlmostEqual(p["se"], se)
        self.assertAlmostEqual(p["low"], 10.0 - 1.96 * se)
        self.assertAlmostEqual(p["high"], 10.0 + 1.96 * se)

    def test_per_user_rates_skip_users_without_pairs_or_groups(self):
        rows = [{"won": 3, "pairs": 4, "ranks": [0, 2]}, {"won": 0, "pairs": 0, "ranks": []}]
        pairwise, top1 = per_user_rates(rows)
        self.assertEqual(pairwise[0], 75.0)
        self.assertEqual(top1[0], 50.0)
        self.assertTrue(np.isnan(pairwise[1]) and np.isnan(top1[1]))


class ExtraVariants(unittest.TestCase):
    def test_a_variant_is_the_full_model_with_more_flags(self):
        self.assertEqual(extra_variants(["temporal episodes=--temporal-share 0.5"]),
                         {"full + temporal episodes": [*VARIANTS[FULL], "--temporal-share", "0.5"]})

    def test_a_variant_without_a_name_or_flags_separator_is_refused(self):
        for spec in ["--temporal-share 0.5", "=--tokens 4"]:
            with self.assertRaises(SystemExit):
                extra_variants([spec])
