import os
import subprocess
import sys
import tempfile
import unittest

from trainer.bench_group_ari import embeddings, latest_history, platform_points
from trainer.clustering import adjusted_rand_index, kmeans
from trainer.data import read_dataset, validation_split
from trainer.group_network import class_group_network
from trainer.model import ModelConfig
from trainer.tests.helpers import taste_world


def bench(world, *flags):
    return subprocess.run([sys.executable, "-m", "trainer.bench_class_count", "--world", world, *flags],
                          capture_output=True, text=True)


class Bench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = os.path.join(tempfile.mkdtemp(), "w")
        # One world's items and group tastes, its users split into train/ and test/.
        taste_world(os.path.join(cls.world, "train"), users=60, groups=3, per_user=30, seed=2)
        taste_world(os.path.join(cls.world, "test"), users=30, groups=3, per_user=30, seed=2, first_user=60)

    def test_a_count_s_row_is_the_trainer_s_classes_grouping_the_test_users(self):
        done = bench(self.world, "--counts", "auto,3", "--seeds", "1", "--k-max", "4")
        self.assertEqual(done.returncode, 0, done.stderr)
        rows = {tuple(cells[:2]): cells for cells in
                ([c.strip() for c in line.strip("|").split("|")] for line in done.stdout.splitlines() if line.startswith("| 1 |"))}
        self.assertEqual(sorted(rows), [("1", "3"), ("1", "auto")])
        train, test = read_dataset(os.path.join(self.world, "train")), read_dataset(os.path.join(self.world, "test"))
        # The classes the trainer would fit with --group-classes 3 and --seed 1: its validation split held out.
        group = class_group_network(ModelConfig(embedding_dim=8), train, validation_split(train, None, 1)[0], 1, 3)
        users = sorted(test.users)
        x = platform_points(embeddings(group, test.vectors, [latest_history(test.users[u], 32) for u in users]))
        self.assertEqual(rows[("1", "3")][3], f"{adjusted_rand_index(kmeans(x, 3), [test.groups[u] for u in users]):.3f}")
        # auto serves at least MIN_CLASSES, and says what it chose where that differs.
        self.assertRegex(rows[("1", "auto")][2], r"^10 \(\d chosen\)$")
        # The training users grouped at k = the count found, by the 10 classes auto serves; a
        # count asked for was not found, so it has none.
        found = int(rows[("1", "auto")][2].split("(")[1].split()[0])
        auto = class_group_network(ModelConfig(embedding_dim=8), train, validation_split(train, None, 1)[0], 1, 10)
        trained = sorted(train.users)
        x = platform_points(embeddings(auto, train.vectors, [latest_history(train.users[u], 32) for u in trained]))
        expected = "-" if found < 2 else f"{adjusted_rand_index(kmeans(x, found), [train.groups[u] for u in trained]):.3f}"
        self.assertEqual(rows[("1", "auto")][9], expected)
        self.assertEqual(rows[("1", "3")][9], "-")
        self.assertIn("| auto - 3 |", done.stdout)
        self.assertIn("3 groups, 30 test users", done.stdout)

    def test_bad_flags_are_refused_naming_the_flag(self):
        for flags, error in ((("--counts", "auto,1"), "--counts: expected auto or whole numbers of classes of at least 2, got '1'"),
                             (("--seeds", "a"), "--seeds: expected integers separated by commas"),
                             (("--k-max", "1"), "--k-max: 1 leaves no k to choose"),
                             (("--folds", "1"), "--folds: 1 leaves no part to hold out")):
            done = bench(self.world, *flags)
            self.assertEqual(done.returncode, 2)
            self.assertIn(error, done.stderr)


if __name__ == "__main__":
    unittest.main()
