import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer import baselines
from trainer.compare import global_baseline_rows, global_weights_sampled, paired
from trainer.data import choose_history_size, eval_users, read_dataset, subset
from trainer.evaluate import evaluate_per_user
from trainer.tests.helpers import onnx_metadata, taste_world, trainer_refusing, write_dataset
from trainer.tests.test_choice_prior import choice_world


class HistorySize(unittest.TestCase):
    """EVAL-1(n) for a tenant: the largest n of 8, 4, 2 that evaluates 50 users, else the one that evaluates the most."""

    def world(self, users, likes, dislikes):
        d = tempfile.mkdtemp()
        rows = [[f"u{u}", f"i{k}", 1 if k < likes else 0, k, ""] for u in range(users) for k in range(likes + dislikes)]
        write_dataset(d, [[float(k)] for k in range(likes + dislikes)], [f"i{k}" for k in range(likes + dislikes)], rows)
        return read_dataset(d)

    def test_short_histories_get_a_smaller_n(self):
        self.assertEqual(choose_history_size(self.world(60, 10, 10))[0], 8)
        self.assertEqual(choose_history_size(self.world(60, 6, 6))[0], 4)   # 6 < 8 + 1 of each
        n, users = choose_history_size(self.world(60, 3, 3))
        self.assertEqual((n, len(users)), (2, 60))

    def test_too_few_users_for_any_takes_the_n_that_evaluates_most(self):
        n, users = choose_history_size(self.world(10, 5, 5))
        self.assertEqual((n, len(users)), (4, 10))


class PairedDifference(unittest.TestCase):
    def test_mean_and_standard_error_over_users_in_points(self):
        a = [{"won": 3, "pairs": 4}, {"won": 1, "pairs": 2}, {"won": 2, "pairs": 2}]
        b = [{"won": 2, "pairs": 4}, {"won": 1, "pairs": 2}, {"won": 0, "pairs": 2}]
        # per user: +25, 0, +100 points; mean 41.67; sd 52.04; se 30.05
        result = paired(a, b)
        self.assertAlmostEqual(result["mean"], 125 / 3, places=6)
        self.assertAlmostEqual(result["standardError"], math.sqrt(((25 - 125 / 3) ** 2 + (125 / 3) ** 2 + (100 - 125 / 3) ** 2) / 2) / math.sqrt(3), places=6)
        self.assertEqual(result["users"], 3)

    def test_one_user_has_no_standard_error(self):
        self.assertEqual(paired([{"won": 1, "pairs": 1}], [{"won": 0, "pairs": 1}]), {"mean": 100.0, "standardError": None, "users": 1})


class GlobalBaseline(unittest.TestCase):
    """The gate's floor is the stronger no-history score on the held-out users: the regression on
    single labels, or where the users chose between two images the Bradley-Terry preference."""

    def split(self, path):
        dataset = read_dataset(path)
        users = sorted(dataset.users)
        return subset(dataset, users[:120]), eval_users(subset(dataset, users[120:]))

    def rows(self, train, users, w):
        return evaluate_per_user(baselines.global_scorer(train.vectors, w), users)

    def test_choices_are_gated_on_the_bradley_terry_preference(self):
        root = tempfile.mkdtemp()
        choice_world(os.path.join(root, "choices"), users=180, prompts=200, seed=2)
        train, users = self.split(os.path.join(root, "choices"))
        kind, rows = global_baseline_rows(train, train.vectors, users)
        self.assertEqual(kind, "CHOICES")
        self.assertEqual(rows, self.rows(train, users, baselines.bradley_terry_weights(train)))
        # Why it matters: on choices the label regression is the weaker floor (89.0 against 84.4
        # pairwise here), so a candidate between the two would have passed the gate.
        won = lambda r: sum(x["won"] for x in r)
        self.assertGreater(won(rows), won(self.rows(train, users, global_weights_sampled(train))) + 0.03 * sum(x["pairs"] for x in rows))

    def test_single_labels_are_gated_on_the_regression(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "labels"), users=180, seed=3)
        train, users = self.split(os.path.join(root, "labels"))
        kind, rows = global_baseline_rows(train, train.vectors, users)
        self.assertEqual(kind, "LABELS")
        self.assertEqual(rows, self.rows(train, users, global_weights_sampled(train)))

    def test_a_large_tenants_choices_are_sampled_the_same_way_every_time(self):
        root = tempfile.mkdtemp()
        choice_world(os.path.join(root, "choices"), users=40, prompts=20, seed=4)
        dataset = read_dataset(os.path.join(root, "choices"))
        full = baselines.bradley_terry_weights(dataset)      # 800 choices, 1,600 mirrored rows
        np.testing.assert_array_equal(full, baselines.bradley_terry_weights(dataset, max_rows=1600))
        sampled = baselines.bradley_terry_weights(dataset, max_rows=400, seed=1)
        np.testing.assert_array_equal(sampled, baselines.bradley_terry_weights(dataset, max_rows=400, seed=1))
        self.assertFalse(np.array_equal(sampled, full))
        self.assertFalse(np.array_equal(sampled, baselines.bradley_terry_weights(dataset, max_rows=400, seed=2)))


class CompareCommand(unittest.TestCase):
    def test_measures_candidate_serving_and_baselines_on_the_same_held_out_users(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "train"), users=80, seed=3)
        taste_world(os.path.join(root, "heldout"), users=60, seed=3, first_user=1000)
        model = os.path.join(root, "model")
        run = lambda *args: subprocess.run([sys.executable, "-m", *args], check=True, capture_output=True, text=True)
        run("trainer.train", "--data", os.path.join(root, "train"), "--out", model, "--epochs", "1", "--max-episodes", "300", "--quiet")
        out = os.path.join(root, "evaluation.json")
        printed = run("trainer.compare", "--train", os.path.join(root, "train"), "--heldout", os.path.join(root, "heldout"),
                      "--candidate", os.path.join(model, "ckpt.pt"), "--serving", os.path.join(model, "ckpt.pt"), "--out", out)
        with open(out) as f:
            e = json.load(f)
        self.assertEqual(e["historySize"], 8)
        self.assertEqual(e["heldOutUsers"], 60)
        self.assertEqual(e["globalBaselineKind"], "LABELS")
        for scorer in ("candidate", "serving", "globalBaseline", "centroidBaseline"):
            self.assertEqual(e[scorer]["users"], 60, scorer)
            self.assertEqual(e[scorer]["pairs"], e["pairs"], scorer)
        # The same model as candidate and as serving: no difference, on every user.
        self.assertEqual(e["candidate"], e["serving"])
        self.assertEqual((e["versusServing"]["mean"], e["versusServing"]["standardError"]), (0.0, 0.0))
        self.assertIn('"evaluated"', printed.stdout)


class EpisodeBudget(unittest.TestCase):
    """--min-episodes draws more episodes per user for a small tenant; --max-episodes fewer for a large one."""

    def episodes_per_user(self, *flags):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=60, seed=4)
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, "m"),
                               "--epochs", "1", "--width", "16", "--layers", "1", *flags], check=True, capture_output=True, text=True)
        line = next(l for l in done.stdout.splitlines() if l.startswith("data:"))
        return int(line.rsplit(";", 1)[1].split()[0])

    def test_min_raises_and_max_caps_the_episodes_per_user(self):
        # 54 training users (10% validation): 8 per user by default.
        self.assertEqual(self.episodes_per_user(), 8)
        self.assertEqual(self.episodes_per_user("--min-episodes", "1080"), 20)   # ceil(1080 / 54)
        self.assertEqual(self.episodes_per_user("--min-episodes", "1080", "--max-episodes", "540"), 10)


class NoValidationUsers(unittest.TestCase):
    """Users with 2 likes and 2 dislikes each can be trained on (a history of one of each and a
    target of each) but never evaluated (EVAL-1(2) needs a target beyond the 2 + 2 history): the
    trainer keeps the last epoch and says so on stderr even with --quiet (the nightly job logs a
    successful run's stderr), and writes no NaN (not JSON) anywhere."""

    def test_keeps_the_last_epoch_and_writes_null_not_nan(self):
        root = tempfile.mkdtemp()
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(40, 8)).astype(np.float32)
        items = [f"i{k}" for k in range(40)]
        rows = [[f"u{u}", f"i{(u * 4 + j) % 40}", int(j < 2), j, ""] for u in range(60) for j in range(4)]
        write_dataset(os.path.join(root, "data"), vectors, items, rows)
        out = os.path.join(root, "m")
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", out,
                               "--epochs", "2", "--width", "16", "--layers", "1", "--quiet"], check=True, capture_output=True, text=True)
        self.assertEqual(done.stdout, "")
        self.assertIn("no validation users (6 held back, none with 2 likes, 2 dislikes and a target of each): "
                      "kept the last epoch, 2, unvalidated", done.stderr)
        self.assertNotIn("nan", done.stderr.lower())
        with open(os.path.join(out, "metrics.json")) as f:
            text = f.read()
        self.assertNotIn("NaN", text)
        metrics = json.loads(text)
        self.assertEqual((metrics["epoch"], metrics["val_pairwise"], metrics["val_users"]), (2, None, 0))
        self.assertEqual(metrics["selected_by"], "last epoch: no validation users")
        self.assertTrue(all(e["val_pairwise"] is None for e in metrics["epochs"]))
        meta = onnx_metadata(os.path.join(out, "model.onnx"))
        self.assertEqual(meta["eval_pairwise"], "")
        self.assertEqual(meta["eval_users"], "0")


class SelectionWindow(unittest.TestCase):
    """--select-window K keeps the epoch whose validation accuracy, averaged with the K - 1 epochs
    before it, is best: few validation pairs make single epochs swing (short histories)."""

    def test_keeps_the_epoch_with_the_best_trailing_mean(self):
        root = tempfile.mkdtemp()
        # This world's curve peaks at epoch 3 and stays there: the best single epoch is 3, the
        # best trailing mean of three comes later (seen: 5).
        taste_world(os.path.join(root, "data"), users=80, seed=1)
        out = os.path.join(root, "m")
        subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", out, "--epochs", "6",
                        "--width", "16", "--layers", "1", "--max-episodes", "400", "--select-window", "3"],
                       check=True, capture_output=True, text=True)
        with open(os.path.join(out, "metrics.json")) as f:
            metrics = json.load(f)
        curve = [e["val_pairwise"] for e in metrics["epochs"]]
        trailing = [np.mean(curve[max(0, i - 2):i + 1]) for i in range(len(curve))]
        self.assertEqual(metrics["epoch"], int(np.argmax(trailing)) + 1)
        self.assertNotEqual(metrics["epoch"], int(np.argmax(curve)) + 1)   # the window made the choice
        self.assertEqual(metrics["val_pairwise"], curve[metrics["epoch"] - 1])
        first = max(1, metrics["epoch"] - 2)
        self.assertEqual(metrics["selected_by"], f"validation pairwise accuracy, averaged over epochs {first}-{metrics['epoch']}")
        self.assertNotIn("criterion", metrics)

    def test_patience_stops_once_the_kept_epoch_stands_and_keeps_what_a_full_run_keeps(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=80, seed=1)
        common = ["--data", os.path.join(root, "data"), "--epochs", "12", "--width", "16", "--layers", "1", "--max-episodes", "400"]
        runs = {}
        for name, extra in (("full", []), ("patient", ["--patience", "2"])):
            out = os.path.join(root, name)
            subprocess.run([sys.executable, "-m", "trainer.train", *common, "--out", out, *extra],
                           check=True, capture_output=True, text=True)
            with open(os.path.join(out, "metrics.json")) as f:
                runs[name] = json.load(f)
        full, patient = runs["full"], runs["patient"]
        stopped = patient["stopped_after"]
        self.assertLess(stopped, 12)                                   # it did stop early
        self.assertEqual(stopped, patient["epoch"] + 2)
        self.assertEqual(len(patient["epochs"]), stopped)
        # Up to the stop, every epoch trained as in the full run (the schedule spans 12 epochs in both).
        self.assertEqual(patient["epochs"], full["epochs"][:stopped])
        # This world's full run keeps epoch 6 of 12 (seen), so the patient run (stopped at 8) keeps it too.
        kept_in_full = int(np.argmax([e["val_pairwise"] for e in full["epochs"]])) + 1
        self.assertLessEqual(kept_in_full, stopped)
        self.assertEqual((patient["epoch"], patient["val_pairwise"]), (full["epoch"], full["val_pairwise"]))
        self.assertNotIn("stopped_after", full)

    def test_a_negative_patience_is_refused(self):
        done = trainer_refusing("--patience", "-1")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--patience: expected 0 (off) or a number of epochs, got -1", done.stderr)

    def test_a_window_below_one_is_refused(self):
        done = trainer_refusing("--select-window", "0")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--select-window: expected an integer of at least 1, got 0", done.stderr)
