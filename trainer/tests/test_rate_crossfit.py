import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer import baselines
from trainer.data import read_dataset
from trainer.rate_crossfit import (CARRY_GROWTH, REJECT_Z, carried_verdict, folds_of, leave_user_out_rates, margin_coefficients,
                                   margin_fit, rule_departure, weight_beside_rule, weight_from_held_out)
from trainer.tests.helpers import onnx_metadata, write_dataset
from trainer.tests.test_item_rates import popularity_world


def simulated_pairs(users, pairs_per_user, a, b, seed=0):
    """held_out_margins' rows for pairs whose like wins with probability sigmoid(a * model margin
    + b * rate margin): a pair the drawn 'like' lost is the same pair seen from the other side."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for _ in range(pairs_per_user):
            dm, dr = 2.0 * rng.normal(), rng.normal()
            side = 1.0 if rng.random() < 1.0 / (1.0 + math.exp(-(a * dm + b * dr))) else -1.0
            rows.append((side * dm, side * dr, f"u{u}"))
    return rows


class Folds(unittest.TestCase):
    def test_every_training_user_is_in_exactly_one_fold_of_nearly_equal_size(self):
        ids = [f"u{k}" for k in range(11)]
        folds = folds_of(ids, seed=3)
        self.assertEqual(len(folds), 2)
        self.assertEqual(sorted(u for fold in folds for u in fold), sorted(ids))
        self.assertLessEqual(abs(len(folds[0]) - len(folds[1])), 1)
        self.assertEqual(folds, folds_of(ids, seed=3))
        self.assertNotEqual(folds, folds_of(ids, seed=4))


class LeaveUserOut(unittest.TestCase):
    def test_a_users_own_labels_do_not_count_towards_the_rates_they_are_scored_with(self):
        root = tempfile.mkdtemp()
        rows = [["a", "i0", 1, 0, ""], ["a", "i1", 0, 1, ""], ["b", "i0", 1, 0, ""], ["c", "i0", 0, 0, ""],
                ["b", "i1", 1, 1, ""], ["c", "i1", 1, 1, ""], ["b", "i2", 1, 2, ""]]
        write_dataset(root, np.eye(3, dtype=np.float32), ["i0", "i1", "i2"], rows)
        dataset = read_dataset(root)
        counts = baselines.item_like_counts(dataset)
        share = baselines.overall_like_share(counts)   # 5 likes of 7
        centred = lambda likes, dislikes: math.log((likes + 2 * share) / (dislikes + 2 * (1 - share))) - math.log(share / (1 - share))
        rates = leave_user_out_rates(dataset, "a", [0, 1, 2], counts, 2.0, remembered={0, 1})
        # i0 without a's like: 1 like, 1 dislike; i1 without a's dislike: 2 likes; i2 is not remembered.
        self.assertAlmostEqual(rates[0], centred(1, 1))
        self.assertAlmostEqual(rates[1], centred(2, 0))
        self.assertEqual(rates[2], 0.0)
        # b's own like of i2 would leave no one else's: an item rated by fewer than 2 others adds nothing.
        self.assertEqual(leave_user_out_rates(dataset, "b", [2], counts, 2.0, remembered={0, 1, 2})[0], 0.0)


class MarginCoefficients(unittest.TestCase):
    def test_standard_errors_shrink_with_each_users_comparisons_and_with_users(self):
        # Comparisons drawn independently from sigmoid(1.0 * model margin + 0.5 * other margin):
        # four times as many per user should about halve the errors, as four times as many users
        # do. Counting each user once whatever their rows (the first version) left them as they were.
        def errors(users, per_user, seed=0):
            rng = np.random.default_rng(seed)
            rows = []
            for u in range(users):
                for m, r in rng.normal(size=(per_user, 2)):
                    wins = rng.random() < 1.0 / (1.0 + math.exp(-(1.0 * m + 0.5 * r)))
                    rows.append((m, r, u) if wins else (-m, -r, u))
            (a, b), (a_error, b_error) = margin_coefficients(rows)
            self.assertLess(abs(b - 0.5), 4 * b_error)
            return b_error

        few, more_each, more_users = errors(100, 10), errors(100, 40), errors(400, 10)
        self.assertAlmostEqual(more_each / few, 0.5, delta=0.12)
        self.assertAlmostEqual(more_users / few, 0.5, delta=0.12)


class WeightFromHeldOut(unittest.TestCase):
    def test_beta_is_the_rates_coefficient_over_the_models(self):
        # An over-confident model (coefficient 0.5) whose margins the rate adds to at 0.5: the
        # served beta that ranks best is 1.0, where a coefficient of 1 fixed on the model gives less.
        beta, a, b = weight_from_held_out(simulated_pairs(400, 10, a=0.5, b=0.5), max_weight=2.0)
        self.assertAlmostEqual(a, 0.5, delta=0.06)
        self.assertAlmostEqual(beta, 1.0, delta=0.15)

    def test_each_user_is_one_vote_however_many_pairs_they_have(self):
        rows = simulated_pairs(200, 5, a=1.0, b=0.3, seed=1)
        loud = [(dm, dr, "loud") for dm, dr, _ in simulated_pairs(1, 3000, a=1.0, b=2.0, seed=2)]
        alone, _, _ = weight_from_held_out(rows, max_weight=2.0)
        beside, _, _ = weight_from_held_out(rows + loud, max_weight=2.0)
        self.assertLess(abs(beside - alone), 0.05)
        self.assertLess(alone, 0.6)

    def test_no_rate_or_a_model_that_ranks_backwards_gives_no_weight_and_the_weight_is_capped(self):
        self.assertEqual(weight_from_held_out([], 2.0), (0.0, None, None))
        self.assertEqual(weight_from_held_out([(1.0, 0.0, "u"), (-0.5, 0.0, "v")], 2.0), (0.0, None, None))
        self.assertEqual(weight_from_held_out(simulated_pairs(200, 5, a=-0.5, b=0.5, seed=3), 2.0)[0], 0.0)
        self.assertEqual(weight_from_held_out(simulated_pairs(200, 5, a=0.2, b=1.5, seed=4), 2.0)[0], 2.0)


class RuleDeparture(unittest.TestCase):
    def test_the_rules_beta_is_rejected_only_by_enough_users(self):
        # Held-out pairs whose rate adds nothing beside the model (b = 0): a rule's beta of 0.4
        # is rejected by 5,000 users and not by 40, and the true ratio (0) is not rejected by the 5,000.
        many, few = simulated_pairs(5000, 2, a=0.8, b=0.0, seed=5), simulated_pairs(40, 2, a=0.8, b=0.0, seed=6)
        self.assertLess(rule_departure(many, 0.4), -REJECT_Z)
        self.assertGreater(rule_departure(few, 0.4), -REJECT_Z)
        self.assertLess(abs(rule_departure(many, 0.0)), REJECT_Z)
        # The other way: a rate the model under-uses (b / a = 1) rejects a rule of 0.4 from above.
        self.assertGreater(rule_departure(simulated_pairs(5000, 2, a=0.5, b=0.5, seed=7), 0.4), REJECT_Z)
        self.assertEqual(rule_departure([], 0.4), 0.0)

    def test_the_held_out_beta_serves_only_where_it_rejects_the_rules(self):
        served, beta, a, b, departure = weight_beside_rule(simulated_pairs(5000, 2, a=0.8, b=0.0, seed=5), 0.4, 2.0)
        self.assertEqual(served, beta)
        self.assertLess(beta, 0.05)
        self.assertLess(departure, -REJECT_Z)
        served, beta, _, _, departure = weight_beside_rule(simulated_pairs(40, 2, a=0.8, b=0.0, seed=6), 0.4, 2.0)
        self.assertEqual(served, 0.4)
        self.assertNotEqual(beta, 0.4)
        self.assertEqual(weight_beside_rule([], 0.4, 2.0), (0.4, 0.0, None, None, 0.0))

    def test_the_departure_is_the_contrasts_z_under_the_fits_covariance(self):
        rows = simulated_pairs(300, 4, a=0.7, b=0.2, seed=8)
        (a, b), covariance = margin_fit(rows)
        (_, _), (a_error, b_error) = margin_coefficients(rows)
        self.assertAlmostEqual(math.sqrt(covariance[0, 0]), a_error)
        self.assertAlmostEqual(math.sqrt(covariance[1, 1]), b_error)
        # At a rule of 0 the contrast is b alone: z is b over its own standard error.
        self.assertAlmostEqual(rule_departure(rows, 0.0), round(b / b_error, 2))



def crossfit_record(weight, departure, train_users=1000, train_rows=20000):
    """An item-rates record as metrics.json keeps it after a cross-fit."""
    return {"weight": weight if abs(departure) >= REJECT_Z else 0.4, "weight_beyond_vectors": 0.4,
            "crossfit": {"folds": 2, "networks": 1, "epochs": 20, "history_size": 2, "train_users": train_users, "train_rows": train_rows,
                         "users": 450, "pairs": 900, "weight": weight, "rule_departure": departure, "kept_epochs": [12]}}


class CarriedVerdict(unittest.TestCase):
    def test_a_rejection_carries_its_held_out_beta_and_otherwise_the_rule_serves(self):
        beta, record, why = carried_verdict(crossfit_record(0.02, -3.1), 1100, 21000)
        self.assertEqual(beta, 0.02)
        self.assertEqual(record, {**crossfit_record(0.02, -3.1)["crossfit"], "carried": True})
        self.assertIn("held-out beta 0.02, which rejected the rule's by -3.10 SE on 1000 training users", why)
        beta, record, why = carried_verdict(crossfit_record(0.3, -1.2), 1100, 21000)
        self.assertIsNone(beta)
        self.assertTrue(record["carried"])
        self.assertIn("did not reject (-1.20 SE on 1000 training users)", why)

    def test_growth_is_measured_from_the_last_cross_fit_and_beyond_it_nothing_is_carried(self):
        self.assertEqual(CARRY_GROWTH, 1.5)
        for now, carried in ((1499, True), (1500, False), (667, True), (666, False), (4000, False)):
            beta, record, why = carried_verdict(crossfit_record(0.02, -3.1), now, 20000)
            self.assertEqual(record is not None, carried, (now, why))
            if not carried:
                self.assertIsNone(beta)
                self.assertIn(f"{now} training users now, 1000 at the --init checkpoint's cross-fit: beyond 1.5x", why)
        # The same users with twice the likes (MovieLens's earlier half, then all): the rates
        # are counted from other rows, so the verdict is not carried either.
        for rows, carried in ((29999, True), (30000, False), (13334, True), (13333, False)):
            beta, record, why = carried_verdict(crossfit_record(0.02, -3.1), 1000, rows)
            self.assertEqual(record is not None, carried, (rows, why))
            if not carried:
                self.assertIn(f"{rows} training rows now, 20000 at the --init checkpoint's cross-fit: beyond 1.5x", why)
        # A carried record keeps the cross-fit's own counts: a second fine-tune measures its
        # growth from there, not from the fine-tune that carried it.
        _, carried, _ = carried_verdict(crossfit_record(0.02, -3.1), 1400, 28000)
        self.assertIsNone(carried_verdict({"weight": 0.02, "crossfit": carried}, 1600, 28000)[1])
        self.assertIsNone(carried_verdict({"weight": 0.02, "crossfit": carried}, 1400, 32000)[1])

    def test_nothing_to_carry_without_a_cross_fit_that_counted_its_users(self):
        old = crossfit_record(0.02, -3.1)
        del old["crossfit"]["train_users"], old["crossfit"]["train_rows"]
        for record in (None, {}, {"weight": 0.4, "items": 50}, old):
            self.assertEqual(carried_verdict(record, 1000, 20000)[:2], (None, None))
            self.assertIn("records no cross-fit with its training users and rows", carried_verdict(record, 1000, 20000)[2])

def train_on_popularity_world(*flags):
    """(the output folder, the finished process, its metrics) of the trainer with --item-rates
    crossfit and `flags` on a 120-user popularity world (the item's quality hidden from its vector)."""
    root = tempfile.mkdtemp()
    popularity_world(os.path.join(root, "data"), users=120)
    out = os.path.join(root, "m")
    done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", out,
                           "--width", "16", "--layers", "1", "--max-episodes", "300", "--val-share", "0.3",
                           "--ensemble", "auto", "--item-rates", "crossfit", "--progress", *flags],
                          check=True, capture_output=True, text=True)
    with open(os.path.join(out, "metrics.json")) as f:
        return out, done, json.load(f)


class TrainerCrossFits(unittest.TestCase):
    def test_the_rates_weight_comes_from_fold_networks_and_their_training_counts(self):
        out, done, metrics = train_on_popularity_world("--epochs", "2")
        rates = metrics["item_rates"]
        crossfit = rates["crossfit"]
        self.assertEqual(crossfit["folds"], 2)
        self.assertEqual(len(crossfit["kept_epochs"]), 2)
        # The quality is hidden from the vectors: the rate says much beyond the model's log-odds.
        self.assertGreater(rates["weight"], 0.3)
        self.assertGreater(crossfit["users"], 40)
        self.assertIn("weight_beyond_vectors", rates)
        # The held-out beta serves where its pairs reject the auto weight (weight_beside_rule,
        # whose branches RuleDeparture covers); the record says which and why.
        rejected = abs(crossfit["rule_departure"]) >= 2.0
        self.assertEqual(rates["weight"], crossfit["weight"] if rejected else rates["weight_beyond_vectors"])
        self.assertIn(f"the rate's coefficient over the model's on {crossfit['users']} training users", rates["selected_by"])
        self.assertEqual(rates["selected_by"].startswith("as --item-rates auto"), not rejected)
        meta = onnx_metadata(os.path.join(out, "model.onnx"))
        self.assertEqual(float(meta["item_rate_weight"]), rates["weight"])
        self.assertEqual(meta["item_rates"], rates["selected_by"])
        # Progress counts the fold networks' epochs: the job's view reaches its end only after them.
        progress = [json.loads(line)["progress"] for line in done.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual({p["epochs"] for p in progress}, {6})
        self.assertEqual(progress[-1]["epoch"], 6)
        self.assertIn("cross-fit 2/2 epoch", done.stdout)

    def test_one_fold_network_of_its_own_epochs_scores_its_fold(self):
        # --crossfit-networks 1 --crossfit-epochs 1: one fold network, on its own (shorter)
        # schedule, scores the users of its fold only; the served network keeps --epochs, and
        # progress counts what was trained.
        _, done, metrics = train_on_popularity_world("--epochs", "3", "--crossfit-networks", "1", "--crossfit-epochs", "1")
        crossfit = metrics["item_rates"]["crossfit"]
        self.assertEqual((crossfit["folds"], crossfit["networks"], crossfit["epochs"], crossfit["kept_epochs"]), (2, 1, 1, [1]))
        # Its fold is about half the training users (84 here), of whom those with an EVAL-1 history.
        self.assertTrue(20 < crossfit["users"] <= 42, crossfit["users"])
        self.assertIn("(1 of 2 folds)", metrics["item_rates"]["selected_by"])
        self.assertEqual(len(metrics["epochs"]), 3)
        progress = [json.loads(line)["progress"] for line in done.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual({p["epochs"] for p in progress}, {4})
        self.assertEqual([p["epoch"] for p in progress], [0, 1, 2, 3, 4])
        self.assertIn("cross-fit 1/1 epoch   1", done.stdout)
        self.assertNotIn("cross-fit 1/1 epoch   2", done.stdout)

    def test_the_fold_flags_are_checked_and_a_later_item_rates_overrides_them(self):
        root = tempfile.mkdtemp()
        popularity_world(os.path.join(root, "data"), users=20)
        for flags, expected in ((["--item-rates", "crossfit", "--crossfit-epochs", "0"], "--crossfit-epochs: expected at least 1, got 0"),
                                (["--item-rates", "crossfit", "--crossfit-networks", "3"], "--crossfit-networks: expected 1 to 2, got 3")):
            done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"),
                                   "--out", os.path.join(root, "m"), *flags], capture_output=True, text=True)
            self.assertEqual(done.returncode, 2)
            self.assertIn(expected, done.stderr)
            self.assertFalse(os.path.exists(os.path.join(root, "m")))
        # The nightly passes the crossfit flags and then the tenant's TRAINING_TRAINER_ARGS, which
        # may say --item-rates auto: no fold network is trained, and progress says so.
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", os.path.join(root, "m"),
                               "--epochs", "1", "--width", "16", "--layers", "1", "--ensemble", "auto", "--item-rates", "crossfit",
                               "--crossfit-networks", "1", "--crossfit-epochs", "2", "--item-rates", "auto", "--progress"],
                              check=True, capture_output=True, text=True)
        with open(os.path.join(root, "m", "metrics.json")) as f:
            self.assertNotIn("crossfit", json.load(f)["item_rates"])
        progress = [json.loads(line)["progress"] for line in done.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual((progress[-1]["epoch"], progress[-1]["epochs"]), (1, 1))
        self.assertNotIn("cross-fit", done.stdout)

    def test_without_a_user_to_cross_fit_on_nothing_more_is_trained_and_the_auto_weight_is_kept(self):
        # Every user has 2 likes and 2 dislikes: enough to train on, too few for an EVAL-1(2)
        # history and targets. The items' quality is hidden from their vectors.
        root = tempfile.mkdtemp()
        rng = np.random.default_rng(5)
        vectors = rng.normal(size=(12, 6)).astype(np.float32)
        quality = 2.0 * rng.normal(size=12)
        rows = []
        for u in range(150):
            ranked = sorted(rng.choice(12, 4, replace=False), key=lambda k: -(quality[k] + rng.normal()))
            rows += [[f"u{u}", f"i{k}", int(rank < 2), rank, ""] for rank, k in enumerate(ranked)]
        write_dataset(os.path.join(root, "data"), vectors, [f"i{k}" for k in range(12)], rows)
        out = os.path.join(root, "m")
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out", out,
                               "--epochs", "1", "--width", "16", "--layers", "1", "--item-rates", "crossfit", "--progress"],
                              check=True, capture_output=True, text=True)
        with open(os.path.join(out, "metrics.json")) as f:
            rates = json.load(f)["item_rates"]
        self.assertGreater(rates["weight"], 0.0)
        self.assertEqual(rates["weight"], rates["weight_beyond_vectors"])
        self.assertIn("no training user has an EVAL-1(", rates["selected_by"])
        self.assertNotIn("crossfit", rates)
        self.assertNotIn("cross-fit 1/2", done.stdout)
        progress = [json.loads(line)["progress"] for line in done.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual((progress[-1]["epoch"], progress[-1]["epochs"]), (3, 3))



class TrainerCarriesCrossFit(unittest.TestCase):
    """--crossfit-carry: a fine-tune takes its checkpoint's cross-fit instead of training a fold
    network, while its training users are within CARRY_GROWTH of that cross-fit's."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp()
        # The same seed draws the same items and first 120 users: `grown` is `data` with 2.5x the users.
        popularity_world(os.path.join(cls.root, "data"), users=120)
        popularity_world(os.path.join(cls.root, "grown"), users=300)
        _, _, cls.first = cls.train("data", "first", "--epochs", "1")

    @classmethod
    def train(cls, data, out, *flags):
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(cls.root, data),
                               "--out", os.path.join(cls.root, out), "--width", "16", "--layers", "1", "--max-episodes", "300",
                               "--val-share", "0.3", "--ensemble", "auto", "--item-rates", "crossfit", "--crossfit-networks", "1",
                               "--crossfit-epochs", "1", "--progress", *flags], check=True, capture_output=True, text=True)
        with open(os.path.join(cls.root, out, "metrics.json")) as f:
            return os.path.join(cls.root, out), done, json.load(f)

    def fine_tune(self, data, out):
        return self.train(data, out, "--epochs", "2", "--init", os.path.join(self.root, "first", "ckpt.pt"), "--crossfit-carry")

    def test_a_fine_tune_on_as_many_users_carries_the_verdict_and_trains_no_fold_network(self):
        first = self.first["item_rates"]["crossfit"]
        self.assertEqual((first["train_users"], first["train_rows"]), (84, 84 * 30))
        out, done, metrics = self.fine_tune("data", "carried")
        rates = metrics["item_rates"]
        self.assertEqual(rates["crossfit"], {**first, "carried": True})
        rejected = abs(first["rule_departure"]) >= REJECT_Z
        self.assertEqual(rates["weight"], first["weight"] if rejected else rates["weight_beyond_vectors"])
        self.assertTrue(rates["selected_by"].startswith("carried from the --init checkpoint's cross-fit: "), rates["selected_by"])
        self.assertEqual(float(onnx_metadata(os.path.join(out, "model.onnx"))["item_rate_weight"]), rates["weight"])
        # No fold network: progress counts the fine-tune's own epochs and ends there.
        self.assertNotIn("cross-fit 1/1", done.stdout)
        progress = [json.loads(line)["progress"] for line in done.stdout.splitlines() if line.startswith('{"progress"')]
        self.assertEqual((progress[-1]["epoch"], {p["epochs"] for p in progress}), (2, {2}))

    def test_a_tenant_grown_past_the_limit_cross_fits_afresh(self):
        _, done, metrics = self.fine_tune("grown", "grown")
        crossfit = metrics["item_rates"]["crossfit"]
        self.assertNotIn("carried", crossfit)
        self.assertEqual((crossfit["train_users"], crossfit["train_rows"]), (210, 210 * 30))
        self.assertIn("cross-fitting afresh: 210 training users now, 84 at the --init checkpoint's cross-fit", done.stdout)
        self.assertIn("cross-fit 1/1 epoch   1", done.stdout)

    def test_refused_without_a_warm_start(self):
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(self.root, "data"),
                               "--out", os.path.join(self.root, "refused"), "--item-rates", "crossfit", "--crossfit-carry"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--crossfit-carry: carries the --init checkpoint's cross-fit; without --init there is none", done.stderr)

if __name__ == "__main__":
    unittest.main()
