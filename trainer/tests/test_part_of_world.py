import csv
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer.data import read_dataset
from trainer.tests.helpers import write_dataset


def world(path):
    """12 users, user k with k + 2 rows whose timestamps run backwards (the file's order is not
    time's), and a users.csv."""
    rows = [[f"u{k}", f"i{(k + t) % 8}", t % 2, 100 - t, ""] for k in range(12) for t in range(k + 2)]
    write_dataset(path, np.eye(8, dtype=np.float32), [f"i{k}" for k in range(8)], rows,
                  users=[[f"u{k}", f"group-{k % 3}"] for k in range(12)])
    return rows


def part(*flags):
    root = tempfile.mkdtemp()
    rows = world(os.path.join(root, "data"))
    done = subprocess.run([sys.executable, "-m", "trainer.part_of_world", "--data", os.path.join(root, "data"),
                           "--out", os.path.join(root, "part"), *flags], capture_output=True, text=True)
    return root, rows, done


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))[1:]


class PartOfWorld(unittest.TestCase):
    def test_some_users_keep_all_their_rows_and_the_whole_catalogue(self):
        root, rows, done = part("--users", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        kept = read_dataset(os.path.join(root, "part"))
        self.assertEqual(len(kept.users), 5)
        self.assertEqual(len(kept.item_ids), 8)
        for user, own in kept.users.items():
            self.assertEqual(len(own), sum(r[0] == user for r in rows))
        self.assertEqual({r[0] for r in csv_rows(os.path.join(root, "part", "users.csv"))}, set(kept.users))
        # The same seed draws the same users; another seed others.
        again, _, _ = part("--users", "5")
        self.assertEqual(set(read_dataset(os.path.join(again, "part")).users), set(kept.users))
        other_root, _, _ = part("--users", "5", "--seed", "1")
        self.assertNotEqual(set(read_dataset(os.path.join(other_root, "part")).users), set(kept.users))

    def test_earlier_keeps_each_users_first_rows_by_time(self):
        root, rows, done = part("--earlier", "0.5")
        self.assertEqual(done.returncode, 0, done.stderr)
        kept = csv_rows(os.path.join(root, "part", "interactions.csv"))
        for k in range(12):
            mine = [r for r in rows if r[0] == f"u{k}"]
            earliest = sorted(mine, key=lambda r: r[3])[:round(0.5 * len(mine))]
            self.assertEqual(sorted(r[3] for r in kept if r[0] == f"u{k}"), sorted(str(r[3]) for r in earliest))

    def test_an_empty_timestamp_is_time_zero(self):
        # CONTRACTS.md section 1: an empty ts is 0, so such a row is among a user's earliest.
        root = tempfile.mkdtemp()
        rows = [["u0", f"i{t}", t % 2, "" if t == 3 else 10 + t, ""] for t in range(4)]
        write_dataset(os.path.join(root, "data"), np.eye(8, dtype=np.float32), [f"i{k}" for k in range(8)], rows)
        done = subprocess.run([sys.executable, "-m", "trainer.part_of_world", "--data", os.path.join(root, "data"),
                               "--out", os.path.join(root, "part"), "--earlier", "0.5"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual([r[1] for r in csv_rows(os.path.join(root, "part", "interactions.csv"))], ["i0", "i3"])

    def test_bad_parts_are_refused_naming_the_flag(self):
        for flags, expected in ((["--users", "13"], "--users: expected 1 to 12"), (["--earlier", "1.5"], "--earlier: expected a share"),
                                (["--users", "3", "--earlier", "0.5"], "not allowed with argument")):
            _, _, done = part(*flags)
            self.assertNotEqual(done.returncode, 0)
            self.assertIn(expected, done.stderr)


if __name__ == "__main__":
    unittest.main()
