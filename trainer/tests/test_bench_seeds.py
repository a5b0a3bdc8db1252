import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer import baselines
from trainer.bench_seeds import (CROSS_FITTED, ENSEMBLE, FULL, VARIANTS, baseline_results, bootstrap_paired, ensemble_of, extra_variants,
                                 paired, per_user_rates)
from trainer.data import eval_users, read_dataset, subset
from trainer.kernels import describe
from trainer.tests.helpers import kernels_a_trainer_gets, taste_world
from trainer.tests.test_co_likes import co_like_world


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


class BootstrapOverSeedsAndUsers(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.baseline = rng.uniform(40, 90, 200)
        self.user_effect = self.baseline + rng.normal(2.0, 8.0, 200)

    def test_without_seed_variance_it_agrees_with_the_standard_error_over_users(self):
        a = np.tile(self.user_effect, (3, 1))
        boot = bootstrap_paired(a, self.baseline)
        se = paired(a.mean(0), self.baseline)["se"]
        self.assertAlmostEqual(boot["se"], se, delta=0.1 * se)
        self.assertLess(boot["low"], 2.0)
        self.assertGreater(boot["high"], 2.0)

    def test_seeds_that_disagree_widen_the_interval(self):
        # Each seed moves every user by the same amount: invisible to the SE over users of the
        # seed-averaged rates, which is what made 3-seed ablation verdicts flip at 6 seeds.
        a = np.stack([self.user_effect + shift for shift in (-3.0, 0.0, 3.0)])
        over_users = paired(a.mean(0), self.baseline)["se"]
        boot = bootstrap_paired(a, self.baseline)
        self.assertGreater(boot["se"], 1.5 * over_users)
        self.assertLess(boot["low"], paired(a.mean(0), self.baseline)["low"])

    def test_two_stages_of_the_same_seeds_pair_by_seed(self):
        # A stage that adds about 1 point to each user, the same on every seed's network, whose
        # seeds disagree by 3 points: paired by seed, the seeds' spread cancels.
        networks = np.stack([self.user_effect + shift for shift in (-3.0, 0.0, 3.0)])
        stage = networks + 1.0 + np.random.default_rng(2).normal(0.0, 2.0, 200)
        over_users = paired(stage.mean(0), networks.mean(0))["se"]
        by_seed = bootstrap_paired(stage, networks, same_seeds=True)
        self.assertAlmostEqual(by_seed["se"], over_users, delta=0.1 * over_users)
        self.assertGreater(by_seed["low"], 0.0)
        # Drawn apart, each side carries the networks' spread: the stage looks like noise.
        apart = bootstrap_paired(stage, networks)
        self.assertGreater(apart["se"], 5 * by_seed["se"])
        self.assertLess(apart["low"], 0.0)
        with self.assertRaisesRegex(ValueError, "same_seeds"):
            bootstrap_paired(stage, networks[:2], same_seeds=True)

    def test_users_missing_on_either_side_are_left_out(self):
        a = np.array([[60.0, np.nan, 80.0, 70.0], [62.0, np.nan, 78.0, 72.0]])
        b = np.array([50.0, 40.0, 70.0, np.nan])
        boot = bootstrap_paired(a, b)   # users 0 and 2 only: each difference is 8 to 12
        self.assertLessEqual(boot["high"], 12.0)
        self.assertGreaterEqual(boot["low"], 8.0)
        self.assertEqual(bootstrap_paired(a[:, :1], b[:1]), {"se": None, "low": None, "high": None})


class ExtraVariants(unittest.TestCase):
    def test_a_variant_is_the_full_model_with_more_flags(self):
        self.assertEqual(extra_variants(["temporal episodes=--temporal-share 0.5"]),
                         {"full + temporal episodes": [*VARIANTS[FULL], "--temporal-share", "0.5"]})

    def test_a_variant_without_a_name_or_flags_separator_is_refused(self):
        for spec in ["--temporal-share 0.5", "=--tokens 4"]:
            with self.assertRaises(SystemExit):
                extra_variants([spec])


class EnsemblesOfVariants(unittest.TestCase):
    """With --ensemble, each --variant's models are also averaged with the regression and compared
    with the full model's ensemble: a variant that only pays inside the ensemble shows there."""

    def test_a_variant_gets_its_own_ensemble_row_and_comparison(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=60, seed=3)
        taste_world(os.path.join(root, "test"), users=20, seed=3, first_user=60)
        done = subprocess.run([sys.executable, "-m", "trainer.bench_seeds", "--train", os.path.join(root, "train"),
                               "--test", os.path.join(root, "test"), "--seeds", "0", "--epochs", "1", "--n-ref", "4",
                               "--work", os.path.join(root, "work"), "--no-ablations", "--ensemble", "--latent-classes",
                               "--variant", "averaged=--average-epochs 1",
                               "--train-args", "--width 16 --layers 1 --max-episodes 200"],
                              check=True, capture_output=True, text=True)
        row = ensemble_of("full + averaged")
        self.assertIn(f"| ours: {row} |", done.stdout)
        self.assertIn(f"| what it adds to the ensemble ({row} − {ENSEMBLE}) | pairwise |", done.stdout)
        self.assertIn("seed 0: full + averaged + ensemble: regression shrink", done.stdout)
        # The fullest model (the last stage, below) is also compared with the summed baseline a deployment could reach.
        self.assertIn(f"| {row} + latent classes − the summed baseline {CROSS_FITTED} | pairwise |", done.stdout)
        # The latent classes are a baseline row, alone and summed.
        self.assertIn("| latent classes (", done.stdout)
        self.assertIn(" x latent classes (shrink and weights chosen on the test users: an upper bound) |", done.stdout)
        # And with --latent-classes, a stage of each fitted ensemble, as the trainer adds them.
        self.assertIn(f"| ours: {ENSEMBLE} + latent classes |", done.stdout)
        self.assertIn("| what the latent classes add | pairwise |", done.stdout)
        self.assertIn(f"seed 0: {ENSEMBLE} + latent classes: weight", done.stdout)
        # The table names the kernels its models were trained on: other kernels train other weights.
        self.assertIn(f"Models trained on CPU kernels: {describe(kernels_a_trainer_gets())}\n", done.stdout)


class SeedGroups(unittest.TestCase):
    """trainer.bench_seed_groups averages saved models' ensembles by groups of seeds: a group of
    one seed is that seed's model, so it must match the single-seed rows exactly."""

    def test_a_group_of_one_seed_is_that_seed(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=60, seed=6)
        taste_world(os.path.join(root, "test"), users=20, seed=6, first_user=60)
        data = ["--train", os.path.join(root, "train"), "--test", os.path.join(root, "test"), "--n-ref", "4",
                "--work", os.path.join(root, "work")]
        subprocess.run([sys.executable, "-m", "trainer.bench_seeds", *data, "--seeds", "0,1", "--epochs", "1", "--no-ablations",
                        "--train-args", "--width 16 --layers 1 --max-episodes 200"], check=True, capture_output=True, text=True)
        alone = subprocess.run([sys.executable, "-m", "trainer.bench_seed_groups", *data, "--seeds", "1", "--groups", "1"],
                               check=True, capture_output=True, text=True).stdout
        self.assertIn("| groups − single seeds | pairwise | +0.00 ± 0.00 |", alone)
        pairs = subprocess.run([sys.executable, "-m", "trainer.bench_seed_groups", *data, "--seeds", "0,1"],
                               check=True, capture_output=True, text=True).stdout
        self.assertIn("groups ['0+1']", pairs)
        self.assertIn("| groups averaged (1) | top-1 |", pairs)


class RateWeights(unittest.TestCase):
    """trainer.bench_rate_weight rebuilds each seed's shipped ensemble from bench:seeds' saved
    models: at weight 0 it must score what bench:seeds' ensemble row scored."""

    def test_weight_zero_is_the_ensemble_row_of_bench_seeds(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=60, seed=4)
        taste_world(os.path.join(root, "test"), users=20, seed=4, first_user=60)
        data = ["--train", os.path.join(root, "train"), "--test", os.path.join(root, "test"), "--n-ref", "4",
                "--work", os.path.join(root, "work"), "--seeds", "0"]
        seeds = subprocess.run([sys.executable, "-m", "trainer.bench_seeds", *data, "--epochs", "1", "--no-ablations", "--ensemble",
                                "--train-args", "--width 16 --layers 1 --max-episodes 200"], check=True, capture_output=True, text=True).stdout
        ensemble = next(line for line in seeds.splitlines() if line.startswith(f"| ours: {ENSEMBLE} |")).split("|")[2].strip()
        weights = subprocess.run([sys.executable, "-m", "trainer.bench_rate_weight", *data],
                                 check=True, capture_output=True, text=True).stdout
        row = next(line for line in weights.splitlines() if line.startswith("| 0 |")).split("|")
        self.assertEqual(f"{float(row[4].split('/')[0]):.1f}", ensemble)   # "at 0": pairwise / top-1
        self.assertRegex(row[2].strip(), r"^\d+(\.\d+)?$")                  # the shipped rule's beta


class BaselinesWithTheServedCoLikes(unittest.TestCase):
    """Every baseline row that sums the co-likes is scored again with them as a served model keeps
    them (baselines.CO_LIKE_RANK), so the best baseline has what the model has."""

    def rows(self, rank):
        root = tempfile.mkdtemp()
        co_like_world(os.path.join(root, "data"), users=120)
        world = read_dataset(os.path.join(root, "data"))
        users = sorted(world.users)
        train, test = subset(world, users[:80]), subset(world, users[80:])
        saved, baselines.CO_LIKE_RANK = baselines.CO_LIKE_RANK, rank
        try:
            return baseline_results(train, test, eval_users(test, 4))
        finally:
            baselines.CO_LIKE_RANK = saved

    def test_each_row_with_co_likes_has_its_twin_at_the_served_rank(self):
        at_full_rank = self.rows(64)   # 40 items: every eigenpair kept, the same similarities
        whole_of = {name: name.replace("co-likes at rank 64", "co-likes") for name in at_full_rank if "co-likes at rank 64" in name}
        self.assertGreaterEqual(len(whole_of), 4)
        for at_rank, whole in whole_of.items():
            self.assertEqual([r["won"] for r in at_full_rank[at_rank]], [r["won"] for r in at_full_rank[whole]], at_rank)
        at_rank_2 = self.rows(2)
        self.assertIn("co-likes at rank 2 (item-based collaborative filtering by item id, no vectors)", at_rank_2)
        self.assertNotEqual([r["won"] for r in at_rank_2["co-likes at rank 2 (item-based collaborative filtering by item id, no vectors)"]],
                            [r["won"] for r in at_rank_2["co-likes (item-based collaborative filtering by item id, no vectors)"]])
