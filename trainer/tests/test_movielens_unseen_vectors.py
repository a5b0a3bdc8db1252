import csv
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer.data import read_dataset
from trainer.tests.helpers import taste_world


class UnseenVectors(unittest.TestCase):
    """trainer.movielens_unseen_vectors: the users who shape the factors are not trained on, the
    test users are kept, the leading dimensions stay and the rest are new unit-length factors."""

    def test_factor_users_leave_training_and_the_test_users_stay(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=60, dim=24, first_user=0)
        taste_world(os.path.join(root, "test"), users=20, dim=24, first_user=1000)
        out = os.path.join(root, "out")
        subprocess.run([sys.executable, "-m", "trainer.movielens_unseen_vectors", "--train", os.path.join(root, "train"),
                        "--test", os.path.join(root, "test"), "--out", out, "--keep-dims", "4", "--factors", "8"],
                       check=True, capture_output=True)
        before, after = read_dataset(os.path.join(root, "train")), read_dataset(os.path.join(out, "train"))
        test_before, test_after = read_dataset(os.path.join(root, "test")), read_dataset(os.path.join(out, "test"))
        self.assertTrue(0 < len(after.users) < len(before.users))
        self.assertTrue(set(after.users) < set(before.users))
        with open(os.path.join(out, "train", "interactions.csv"), newline="") as f:
            kept = {r["user"] for r in csv.DictReader(f)}
        self.assertEqual(kept, set(after.users))
        self.assertEqual(set(test_after.users), set(test_before.users))
        self.assertEqual(after.vectors.shape, (150, 12))
        np.testing.assert_array_equal(after.vectors, test_after.vectors)
        np.testing.assert_array_equal(after.vectors[:, :4], before.vectors[:, :4])
        norms = np.linalg.norm(after.vectors[:, 4:], axis=1)
        np.testing.assert_allclose(norms[norms > 0], 1.0, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
