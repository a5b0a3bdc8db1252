import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer.bench_group_ari import chosen_k, embeddings, latest_history, platform_points
from trainer.clustering import adjusted_rand_index, kmeans
from trainer.data import Interaction, read_dataset
from trainer.export import load_checkpoint
from trainer.tests.helpers import table_rows, taste_world, train_small


class LatestHistory(unittest.TestCase):
    def test_the_latest_of_each_kind_in_time_order(self):
        rows = [Interaction(item=i, label=i % 2, ts=10 - i, line=i, pair="") for i in range(10)]
        # Item i was rated at 10 - i: the latest likes are items 1 and 3, the latest dislikes 0 and 2.
        history = latest_history(rows, 2)
        self.assertEqual([r.item for r in history], [3, 1, 2, 0])


class ChosenK(unittest.TestCase):
    def test_the_smallest_k_within_the_tolerance_of_the_best_silhouette(self):
        rng = np.random.default_rng(0)
        centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
        x = np.concatenate([c + 0.3 * rng.normal(size=(30, 2)) for c in centers])
        k, labels, scores = chosen_k(x, 6)
        self.assertEqual(k, 3)
        self.assertEqual(adjusted_rand_index(labels, np.repeat([0, 1, 2], 30)), 1.0)
        self.assertEqual(sorted(scores), [2, 3, 4, 5, 6])
        # Two far groups, one of them two near halves: k = 3 scores a little better than k = 2,
        # within the tolerance, and the smaller k is chosen.
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(size=(40, 2)) * 0.3, [10.0, 0.0] + rng.normal(size=(20, 2)) * 0.3,
                            [10.0, 3.2] + rng.normal(size=(20, 2)) * 0.3])
        k, _, scores = chosen_k(x, 4)
        self.assertGreater(scores[3], scores[2])
        self.assertLess(scores[3] - scores[2], 0.02)
        self.assertEqual(k, 2)


class PlatformPoints(unittest.TestCase):
    def test_the_taste_half_at_unit_length_where_the_other_half_is_the_activations(self):
        x = np.array([[3.0, 4.0, 0.25, 0.75], [0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.5, 0.5]])
        np.testing.assert_allclose(platform_points(x), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])

    def test_the_whole_row_where_no_half_is_a_distribution(self):
        # An encoded history (a model without tokens): compared as it is, at unit length.
        x = np.array([[3.0, 0.0, 4.0, 0.0], [0.0, 2.0, 0.0, -1.0]])
        np.testing.assert_allclose(platform_points(x), x / np.linalg.norm(x, axis=1, keepdims=True))
        odd = np.array([[1.0, 1.0, 0.5], [2.0, 0.0, 0.5]])
        np.testing.assert_allclose(platform_points(odd), odd / np.linalg.norm(odd, axis=1, keepdims=True))


class Bench(unittest.TestCase):
    def test_each_seed_s_row_clusters_the_users_own_latest_histories(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=45, groups=3, per_user=30, seed=2)
        train_small(root, os.path.join("m", "seed0"), "--seed", "0")
        done = subprocess.run([sys.executable, "-m", "trainer.bench_group_ari", "--test", os.path.join(root, "data"),
                               "--models", os.path.join(root, "m"), "--seeds", "0", "--per-kind", "4", "--k-max", "4"],
                              capture_output=True, text=True, check=True)
        [row] = table_rows(done.stdout, "0")
        test = read_dataset(os.path.join(root, "data"))
        users = sorted(test.users)
        model, _ = load_checkpoint(os.path.join(root, "m", "seed0", "ckpt.pt"))
        x = embeddings(model, test.vectors, [latest_history(test.users[u], 4) for u in users])
        self.assertEqual(x.shape, (45, 20))   # 10 tokens: the taste half, then the activations
        truth = [test.groups[u] for u in users]
        self.assertEqual(row[1], f"{adjusted_rand_index(kmeans(platform_points(x), 3), truth):.3f}")
        self.assertIn("45 users, 3 groups, latest 4 + 4", done.stdout)
        raw = subprocess.run([sys.executable, "-m", "trainer.bench_group_ari", "--test", os.path.join(root, "data"),
                              "--models", os.path.join(root, "m"), "--seeds", "0", "--per-kind", "4", "--k-max", "4",
                              "--points", "raw"], capture_output=True, text=True, check=True)
        self.assertEqual(table_rows(raw.stdout, "0")[0][1], f"{adjusted_rand_index(kmeans(x, 3), truth):.3f}")

    def test_a_test_folder_without_groups_is_refused_naming_the_flag(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=12, groups=2, per_user=20, seed=2)
        train_small(root, os.path.join("m", "seed0"), "--seed", "0")
        os.remove(os.path.join(root, "data", "users.csv"))
        done = subprocess.run([sys.executable, "-m", "trainer.bench_group_ari", "--test", os.path.join(root, "data"),
                               "--models", os.path.join(root, "m"), "--seeds", "0"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--test:", done.stderr)
        self.assertIn("no users.csv", done.stderr)


if __name__ == "__main__":
    unittest.main()
