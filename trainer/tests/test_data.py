import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from trainer.data import (TRAIN_USERS_ENOUGH, Dataset, DatasetError, Episode, auto_val_share, collate, eval_users,
                          history_size, parse_val_share, read_dataset, sample_episode, split_users, validation_split,
                          without_history)
from trainer.tests.helpers import taste_world, train_small, trainer_refusing, write_dataset


class ReaderErrors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.vectors = np.eye(3, dtype=np.float32)

    def write(self, interactions, vectors=None, items=("a", "b", "c")):
        write_dataset(self.dir, self.vectors if vectors is None else vectors, list(items), interactions)

    def test_reads_a_valid_dataset(self):
        self.write([["u1", "a", 1, 5, ""], ["u1", "b", 0, "", "p1"]])
        d = read_dataset(self.dir)
        self.assertEqual(d.dim, 3)
        self.assertEqual([(r.item, r.label, r.ts, r.line, r.pair) for r in d.users["u1"]], [(0, 1, 5, 2, ""), (1, 0, 0, 3, "p1")])

    def test_names_file_line_and_field(self):
        cases = [
            ([["u1", "zz", 1, 0, ""]], None, "interactions.csv:2: item: unknown item 'zz'"),
            ([["u1", "a", 1, 0, ""], ["u1", "b", 2, 0, ""]], None, "interactions.csv:3: label: expected 0 or 1, got '2'"),
            ([["u1", "a", 1, "soon", ""]], None, "interactions.csv:2: ts: expected integer seconds, got 'soon'"),
            ([], np.eye(4, dtype=np.float32)[:, :3], "items.csv: 3 items, but items.npy has 4 rows"),
            ([], np.array([[1, 0, 0], [0, np.nan, 0], [0, 0, 1]], np.float32), "items.npy: row 1: NaN or infinite value"),
            ([], np.array([[1, 0, 0], [0, np.inf, 0], [0, 0, 1]], np.float32), "items.npy: row 1: NaN or infinite value"),
        ]
        for interactions, vectors, message in cases:
            with self.subTest(message=message):
                self.write(interactions, vectors)
                with self.assertRaises(DatasetError) as caught:
                    read_dataset(self.dir)
                self.assertIn(message, str(caught.exception))

    def test_rejects_a_missing_header_column(self):
        self.write([])
        with open(os.path.join(self.dir, "interactions.csv"), "w") as f:
            f.write("user,item,ts,pair\nu1,a,0,\n")
        with self.assertRaisesRegex(DatasetError, r"interactions.csv:1: header: missing column label"):
            read_dataset(self.dir)

    def test_rejects_duplicate_item_ids_and_ignores_extra_columns(self):
        self.write([], items=("a", "a", "c"))
        with self.assertRaisesRegex(DatasetError, r"items.csv:3: item: duplicate id 'a'"):
            read_dataset(self.dir)
        self.write([])
        with open(os.path.join(self.dir, "interactions.csv"), "w") as f:
            f.write("user,item,label,ts,pair,extra\nu1,a,1,0,,whatever\n")
        self.assertEqual(len(read_dataset(self.dir).users["u1"]), 1)


class Eval1(unittest.TestCase):
    def make(self, rows):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(60, dtype=np.float32), [f"i{k}" for k in range(60)], rows)
        return read_dataset(d)

    def test_history_is_the_first_8_likes_and_dislikes_by_time_then_line(self):
        rows = [["u", f"i{k}", k % 2, 100 - k, ""] for k in range(40)]   # later lines are older
        users = eval_users(self.make(rows))
        self.assertEqual(len(users), 1)
        history = sorted(r.item for r in users[0].history)
        self.assertEqual(history, sorted(list(range(39, 23, -1))))       # the 16 oldest rows
        targets = {i for p in users[0].pairs for i in p}
        self.assertTrue(targets.isdisjoint(history))
        self.assertTrue(all(like % 2 == 1 and dislike % 2 == 0 for like, dislike in users[0].pairs))
        self.assertEqual(len(users[0].groups), 8)
        self.assertTrue(all(len(set(d)) == 3 for _, d in users[0].groups))

    def test_skips_users_without_a_full_history_or_targets(self):
        few = [["u", f"i{k}", k % 2, k, ""] for k in range(15)]
        only_likes_left = [["v", f"i{k}", k % 2, k, ""] for k in range(16)] + [["v", "i50", 1, 99, ""]]
        self.assertEqual(eval_users(self.make(few + only_likes_left)), [])

    def test_pairs_come_from_pair_ids_and_drop_pairs_touching_the_history(self):
        rows = [["u", f"i{k}", k % 2, k, ""] for k in range(16)]
        rows += [["u", "i20", 1, 50, "p1"], ["u", "i21", 0, 50, "p1"], ["u", "i22", 1, 51, "p2"], ["u", "i23", 0, 51, "p2"]]
        rows[0][4] = "p9"                                              # a history row with a pair id
        rows += [["u", "i30", 0, 60, "p9"]]                            # its partner is no target
        users = eval_users(self.make(rows))
        self.assertEqual(users[0].pairs, [(20, 21), (22, 23)])


class Episodes(unittest.TestCase):
    def test_history_and_targets_are_disjoint(self):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], [["u", f"i{k}", k % 2, k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        rng = np.random.default_rng(0)
        for _ in range(50):
            e = sample_episode(rows, rng, n_ref=8, max_pairs=8)
            self.assertTrue(set(e.history_items).isdisjoint(set(e.pos) | set(e.neg)))
            self.assertTrue(all(k % 2 == 1 for k in e.pos) and all(k % 2 == 0 for k in e.neg))

    def test_history_sizes_drawn_larger_come_near_the_most_a_user_has_and_smaller_near_one(self):
        rng = np.random.default_rng(0)
        # The larger of two uniform draws is k with chance (k^2 - (k-1)^2) / 16: 1, 3, 5 and 7 sixteenths; the smaller, the reverse.
        for draw, chances in (("larger", [1, 3, 5, 7]), ("smaller", [7, 5, 3, 1])):
            sizes = np.array([history_size(rng, 4, draw) for _ in range(20_000)])
            self.assertEqual(set(sizes), {1, 2, 3, 4})
            np.testing.assert_allclose(np.bincount(sizes, minlength=5)[1:] / len(sizes), np.array(chances) / 16, atol=0.01)
            self.assertEqual([history_size(rng, 1, draw) for _ in range(5)], [1] * 5)

    def test_uniform_history_sizes_are_the_draws_episodes_always_made(self):
        # The default draws what sample_episode drew before the option, so runs without it train the same weights.
        ours, before = np.random.default_rng(5), np.random.default_rng(5)
        self.assertEqual([history_size(ours, 6) for _ in range(50)], [int(before.integers(1, 7)) for _ in range(50)])

    def test_an_episode_drawn_larger_reads_more_history_smaller_less_and_each_apart_from_its_targets(self):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], [["u", f"i{k}", k % 2, k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        for temporal in (False, True):
            mean_history = {}
            for draw in ("uniform", "larger", "smaller"):
                rng = np.random.default_rng(1)
                episodes = [sample_episode(rows, rng, n_ref=8, max_pairs=8, temporal=temporal, history_draw=draw) for _ in range(400)]
                for e in episodes:
                    self.assertTrue(set(e.history_items).isdisjoint(set(e.pos) | set(e.neg)))
                    self.assertLessEqual(max(e.history_labels.sum(), (1 - e.history_labels).sum()), 8)
                mean_history[draw] = np.mean([len(e.history_items) for e in episodes])
            self.assertGreater(mean_history["larger"], mean_history["uniform"] + 2, temporal)
            self.assertLess(mean_history["smaller"], mean_history["uniform"] - 2, temporal)

    def test_a_temporal_episode_reads_the_latest_before_a_cut_and_targets_what_came_after(self):
        d = tempfile.mkdtemp()
        # Timestamps run backwards through the file: time order, not file order, must decide.
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], [["u", f"i{k}", k % 2, 100 - k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        ts = {r.item: r.ts for r in rows}
        rng = np.random.default_rng(0)
        for _ in range(50):
            e = sample_episode(rows, rng, n_ref=4, max_pairs=8, temporal=True)
            latest_history = max(ts[i] for i in e.history_items)
            self.assertTrue(all(ts[i] > latest_history for i in [*e.pos, *e.neg]))
            self.assertTrue(all(k % 2 == 1 for k in e.pos) and all(k % 2 == 0 for k in e.neg))
            # The history is the latest of each kind before the cut: no like or dislike of the same kind sits between it and the cut.
            for label in (0, 1):
                kept = [ts[i] for i, lab in zip(e.history_items, e.history_labels) if lab == label]
                skipped = [r.ts for r in rows if r.label == label and min(kept) < r.ts <= latest_history and r.item not in e.history_items]
                self.assertEqual(skipped, [])

    def test_prompt_pair_targets_are_the_users_own_choices_and_random_pairs_are_not(self):
        d = tempfile.mkdtemp()
        # 20 choices: pair p is item 2p liked against item 2p + 1 disliked.
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)],
                      [["u", f"i{k}", 1 - k % 2, k, f"p{k // 2}"] for k in range(40)])
        rows = read_dataset(d).users["u"]
        rng = np.random.default_rng(0)
        random_partners = 0
        for _ in range(50):
            e = sample_episode(rows, rng, n_ref=8, max_pairs=8, prompt_pairs=True)
            self.assertEqual([n - 1 for n in e.neg], list(e.pos))
            self.assertTrue(set(e.history_items).isdisjoint(set(e.pos) | set(e.neg)))
            self.assertLessEqual(len(e.pos), 8)
            e = sample_episode(rows, rng, n_ref=8, max_pairs=8)
            random_partners += sum(n - 1 != p for p, n in zip(e.pos, e.neg))
        self.assertGreater(random_partners, 0)

    def test_without_prompt_pairs_left_an_episode_pairs_at_random(self):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], [["u", f"i{k}", k % 2, k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        e = sample_episode(rows, np.random.default_rng(0), n_ref=8, max_pairs=8, prompt_pairs=True)
        self.assertEqual(len(e.pos), 8)
        self.assertTrue(all(k % 2 == 1 for k in e.pos) and all(k % 2 == 0 for k in e.neg))

    def test_hard_negatives_pair_each_like_with_the_closest_dislike_left(self):
        d = tempfile.mkdtemp()
        # Like k (item 2k) sits at angle k on a circle, dislike k (item 2k + 1) a little past it:
        # each like's closest dislike is its own neighbour.
        angles = np.repeat(np.arange(20) * 0.3, 2) + np.tile([0.0, 0.05], 20)
        vectors = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
        write_dataset(d, vectors, [f"i{k}" for k in range(40)], [["u", f"i{k}", 1 - k % 2, k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        rng = np.random.default_rng(0)
        hard, random = [], []
        for _ in range(20):
            e = sample_episode(rows, rng, n_ref=4, max_pairs=8, hard_negatives=unit)
            targets = [k for k in range(1, 40, 2) if k not in e.history_items]
            self.assertEqual(len(set(e.neg)), len(e.neg))
            for k, (p, n) in enumerate(zip(e.pos, e.neg)):
                # The closest of the dislikes the pairs before it left.
                left = [t for t in targets if t not in e.neg[:k]]
                self.assertEqual(n, max(left, key=lambda t: unit[p] @ unit[t]))
            hard += [unit[p] @ unit[n] for p, n in zip(e.pos, e.neg)]
            e = sample_episode(rows, rng, n_ref=4, max_pairs=8)
            random += [unit[p] @ unit[n] for p, n in zip(e.pos, e.neg)]
        self.assertGreater(np.mean(hard), np.mean(random) + 0.3)

    def test_choices_as_choices_compare_a_choice_s_own_images_and_pair_single_images_apart(self):
        d = tempfile.mkdtemp()
        # Items 0-19: ten choices, pair p is item 2p liked against item 2p + 1. Items 20-39: single
        # images, even liked, odd disliked.
        rows = [["u", f"i{k}", 1 - k % 2, k, f"p{k // 2}"] for k in range(20)]
        rows += [["u", f"i{k}", 1 - k % 2, k, ""] for k in range(20, 40)]
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], rows)
        user = read_dataset(d).users["u"]
        rng = np.random.default_rng(0)
        singles = choices = 0
        for temporal in (False, True) * 25:
            e = sample_episode(user, rng, n_ref=4, max_pairs=8, temporal=temporal, choices_as_choices=True)
            self.assertLessEqual(len(e.pos), 8)
            self.assertTrue(set(e.history_items).isdisjoint(set(e.pos) | set(e.neg)))
            for p, n, single in zip(e.pos, e.neg, e.single):
                if single:
                    self.assertTrue(p >= 20 and n >= 20 and p % 2 == 0 and n % 2 == 1)
                else:
                    self.assertEqual((p % 2, n), (0, p + 1))
            singles += int(e.single.sum())
            choices += int((~e.single).sum())
        self.assertGreater(singles, 0)
        self.assertGreater(choices, 0)
        # Without the option a choice's images are paired with single images too.
        crossed = 0
        for _ in range(20):
            e = sample_episode(user, rng, n_ref=4, max_pairs=8)
            crossed += sum((p < 20) != (n < 20) for p, n in zip(e.pos, e.neg))
        self.assertGreater(crossed, 0)

    def test_choices_as_choices_draw_the_same_episodes_for_a_user_without_choices(self):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(40, dtype=np.float32), [f"i{k}" for k in range(40)], [["u", f"i{k}", k % 2, k, ""] for k in range(40)])
        rows = read_dataset(d).users["u"]
        plain, marked = np.random.default_rng(3), np.random.default_rng(3)
        for _ in range(20):
            a = sample_episode(rows, plain, n_ref=8, max_pairs=8)
            b = sample_episode(rows, marked, n_ref=8, max_pairs=8, choices_as_choices=True)
            for field in ("history_items", "history_labels", "pos", "neg"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
            self.assertTrue(b.single.all())
        self.assertEqual(plain.random(), marked.random())

    def test_the_single_mask_marks_the_pairs_l_base_reads(self):
        vectors = np.eye(6, dtype=np.float32)
        episodes = [Episode(np.array([0]), np.array([1]), np.array([1, 2]), np.array([3, 4]),
                            np.array([False, True])),
                    Episode(np.array([0]), np.array([0]), np.array([5]), np.array([1]))]
        *_, pair_mask, single_mask = collate(episodes, vectors)
        np.testing.assert_array_equal(pair_mask, [[True, True], [True, False]])
        np.testing.assert_array_equal(single_mask, [[False, True], [True, False]])

    def test_an_episode_with_its_history_withheld_keeps_its_targets_and_collates_to_one_masked_slot(self):
        vectors = np.eye(6, dtype=np.float32)
        e = Episode(np.array([0, 1]), np.array([1, 0]), np.array([2, 3]), np.array([4, 5]), np.array([True, False]))
        cold = without_history(e)
        self.assertEqual((len(cold.history_items), len(cold.history_labels)), (0, 0))
        for field in ("pos", "neg", "single"):
            np.testing.assert_array_equal(getattr(cold, field), getattr(e, field))
        # A batch of withheld histories alone: one masked slot each, as the API sends a user before their first like.
        history, labels, mask, pos, neg, pair_mask, _ = collate([cold, without_history(e)], vectors)
        self.assertEqual((history.shape, labels.shape, mask.shape), ((2, 1, 6), (2, 1), (2, 1)))
        self.assertFalse(mask.any())
        self.assertFalse(history.any())
        np.testing.assert_array_equal(pos[0], vectors[[2, 3]])
        self.assertTrue(pair_mask.all())
        # Beside an episode that reads a history, the withheld one is all padding.
        history, _, mask, *_ = collate([e, cold], vectors)
        self.assertEqual(history.shape, (2, 2, 6))
        np.testing.assert_array_equal(mask, [[True, True], [False, False]])

    def test_a_temporal_episode_needs_a_like_and_a_dislike_on_both_sides_of_some_cut(self):
        d = tempfile.mkdtemp()
        write_dataset(d, np.eye(4, dtype=np.float32), [f"i{k}" for k in range(4)], [["u", "i0", 1, 1, ""], ["u", "i1", 1, 2, ""], ["u", "i2", 0, 3, ""], ["u", "i3", 0, 4, ""]])
        self.assertIsNone(sample_episode(read_dataset(d).users["u"], np.random.default_rng(0), n_ref=4, max_pairs=8, temporal=True))


class ChoicesAsChoicesTrainer(unittest.TestCase):
    def test_a_tenant_whose_every_interaction_is_a_choice_trains_on_l_cp_alone(self):
        root = tempfile.mkdtemp()
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(100, 8)).astype(np.float32)
        taste = rng.normal(size=8)
        rows = []
        for u in range(40):
            for c in range(12):
                a, b = rng.choice(100, size=2, replace=False)
                won, lost = (a, b) if vectors[a] @ taste > vectors[b] @ taste else (b, a)
                rows += [[f"u{u}", f"i{won}", 1, 2 * c, f"u{u}-p{c}"], [f"u{u}", f"i{lost}", 0, 2 * c, f"u{u}-p{c}"]]
        write_dataset(os.path.join(root, "data"), vectors, [f"i{k}" for k in range(100)], rows)
        metrics, _ = train_small(root, "m", "--n-ref", "4", "--choices-as-choices")
        self.assertIs(metrics["choices_as_choices"], True)
        self.assertTrue(all(np.isfinite(e["loss"]) and e["loss"] > 0 for e in metrics["epochs"]))

    def test_it_is_refused_beside_another_way_of_choosing_target_pairs_and_without_l_cp(self):
        for flag in ("--prompt-pairs", "--hard-negatives"):
            done = trainer_refusing("--choices-as-choices", flag, "0.5")
            self.assertNotEqual(done.returncode, 0)
            self.assertIn(f"{flag}: --choices-as-choices chooses every episode's target pairs", done.stderr)
        done = trainer_refusing("--choices-as-choices", "--loss", "base")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--choices-as-choices: a choice is trained by L_CP, which --loss base leaves out", done.stderr)


class ValidationShare(unittest.TestCase):
    """--val-share auto: 10% of a tenant's users, and where that would leave more than
    TRAIN_USERS_ENOUGH to train on, the users beyond them, up to 30%."""

    def test_small_tenants_hold_out_ten_percent_and_large_ones_up_to_thirty(self):
        self.assertEqual(auto_val_share(800), 0.1)                  # the default world, MovieLens
        self.assertEqual(auto_val_share(8_000), 0.1)                # the 16,000-user world's train/
        self.assertEqual(auto_val_share(24_000), 0.1)               # 10% leaves 21,600 to train
        self.assertAlmostEqual(auto_val_share(28_000), 5_600 / 28_000)
        self.assertEqual(auto_val_share(32_000), 0.3)               # the 64,000-user world's train/
        self.assertEqual(auto_val_share(1_000_000), 0.3)
        self.assertEqual(auto_val_share(0), 0.1)
        # Continuous where the rule takes over: 10% leaves exactly TRAIN_USERS_ENOUGH.
        edge = TRAIN_USERS_ENOUGH / 0.9
        self.assertAlmostEqual(auto_val_share(edge), 0.1)

    def test_the_split_holds_out_the_users_the_rule_gives_and_a_share_given_overrides_it(self):
        users = [f"u{i:05d}" for i in range(32_000)]
        train, val = split_users(users, auto_val_share(len(users)), 0)
        self.assertEqual((len(train), len(val)), (22_400, 9_600))
        # auto is the split --val-share 0.3 made (the models session 37 measured).
        self.assertEqual((train, val), split_users(users, 0.3, 0))
        for n, share, held_out in ((1_000, None, 100), (1_000, 0.3, 300), (1_000, 0.0, 0)):
            tenant = Dataset("", np.zeros((1, 2), np.float32), ["i0"], [], {f"u{i:04d}": [] for i in range(n)})
            train_ids, val_ids, _, _ = validation_split(tenant, share, 0)
            self.assertEqual((len(train_ids), len(val_ids)), (n - held_out, held_out))

    def test_the_flag_reads_auto_or_a_share_and_names_what_it_refuses(self):
        self.assertIsNone(parse_val_share("auto"))
        self.assertEqual(parse_val_share("0.3"), 0.3)
        for bad in ("1", "-0.1", "a third"):
            with self.assertRaises(argparse.ArgumentTypeError) as refused:
                parse_val_share(bad)
            self.assertIn(f"expected auto or a share in [0, 1), got {bad!r}", str(refused.exception))
        done = trainer_refusing("--val-share", "1")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("argument --val-share: expected auto or a share in [0, 1), got '1'", done.stderr)

    def test_the_trainer_records_the_share_it_held_out_and_how_it_drew_histories(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, seed=3)
        metrics, _ = train_small(root, "given")
        self.assertEqual(metrics["val_share"], {"share": 0.3, "held_out": 12, "selected_by": "--val-share"})
        self.assertEqual(metrics["history_draw"], "uniform")
        larger, _ = train_small(root, "larger", "--history-draw", "larger")
        self.assertEqual(larger["history_draw"], "larger")
        self.assertEqual(metrics["cold_share"], 0.0)
        # Every episode with its history withheld: every batch is one masked slot wide, and trains.
        cold, _ = train_small(root, "cold", "--cold-share", "1")
        self.assertEqual(cold["cold_share"], 1.0)
        self.assertTrue(all(np.isfinite(epoch["loss"]) for epoch in cold["epochs"]))
        done = trainer_refusing("--cold-share", "1.5")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--cold-share: expected a share in [0, 1], got 1.5", done.stderr)
        done = subprocess.run([sys.executable, "-m", "trainer.train", "--data", os.path.join(root, "data"), "--out",
                               os.path.join(root, "auto"), "--epochs", "1", "--width", "16", "--layers", "1",
                               "--max-episodes", "100"], check=True, capture_output=True, text=True)
        with open(os.path.join(root, "auto", "metrics.json")) as f:
            metrics = json.load(f)
        self.assertEqual(metrics["val_share"], {"share": 0.1, "held_out": 4, "selected_by": "auto"})
        self.assertIn("4 validation users (10%, auto;", done.stdout)


if __name__ == "__main__":
    unittest.main()
