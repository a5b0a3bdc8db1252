import math
import os
import tempfile
import unittest
from types import SimpleNamespace

import numpy as np
import torch

from trainer.data import first_slots
from trainer.model import contrastive_list_loss, contrastive_loss
from trainer.tests.helpers import taste_world, train_small

softplus = lambda x: math.log1p(math.exp(-x))   # -log sigmoid(x)
ALL = lambda *shape: torch.ones(*shape, dtype=torch.bool)


def list_loss(pos, neg, pair_mask, single_mask=None, pos_items=None, neg_items=None):
    """contrastive_list_loss with each slot's first appearance taken from item ids (default: all distinct)."""
    B, P = pair_mask.shape
    pos_items = pos_items if pos_items is not None else [list(range(P))] * B
    neg_items = neg_items if neg_items is not None else [list(range(100, 100 + P))] * B
    episodes = [SimpleNamespace(pos=np.array(p), neg=np.array(n)) for p, n in zip(pos_items, neg_items)]
    like_first, dislike_first = (torch.from_numpy(x) for x in first_slots(episodes, P))
    single_mask = pair_mask if single_mask is None else single_mask
    return contrastive_list_loss(pos, neg, pair_mask, single_mask, like_first, dislike_first)


class ListForm(unittest.TestCase):
    def test_one_like_and_one_dislike_is_the_papers_pair(self):
        pos = torch.tensor([[[2.0, 0.5]]])
        neg = torch.tensor([[[0.0, 1.5]]])
        self.assertAlmostEqual(list_loss(pos, neg, ALL(1, 1)).item(), contrastive_loss(pos, neg, ALL(1, 1)).item(), places=6)

    def test_one_like_against_three_dislikes_by_hand(self):
        # The like cycled into three slots (as sample_episode fills the pairs) counts once.
        pos = torch.tensor([[[2.0, 0.5]] * 3])
        neg = torch.tensor([[[0.0, 1.5], [1.0, 0.0], [3.0, -1.0]]])
        l_plus = math.log(1 + math.exp(0.0 - 2.0) + math.exp(1.0 - 2.0) + math.exp(3.0 - 2.0))
        l_minus = (softplus(1.5 - 0.5) + softplus(0.0 - 0.5) + softplus(-1.0 - 0.5)) / 3
        got = list_loss(pos, neg, ALL(1, 3), pos_items=[[7, 7, 7]], neg_items=[[1, 2, 3]])
        self.assertAlmostEqual(got.item(), l_plus + l_minus, places=6)

    def test_targets_are_compared_within_their_episode_and_padding_is_left_out(self):
        pos = torch.tensor([[[2.0, 0.5], [9.0, -9.0]], [[1.0, 0.0], [0.5, 0.2]]])
        neg = torch.tensor([[[0.0, 1.5], [-9.0, 9.0]], [[0.0, 1.0], [2.0, 0.0]]])
        mask = torch.tensor([[True, False], [True, True]])
        # The mean is over every like (and every dislike) of the batch: 1 + 2 of each.
        plus = lambda p, n: [math.log(1 + sum(math.exp(n[j][0] - p[i][0]) for j in range(len(n)))) for i in range(len(p))]
        minus = lambda p, n: [math.log(1 + sum(math.exp(p[i][1] - n[j][1]) for i in range(len(p)))) for j in range(len(n))]
        p0, n0, p1, n1 = pos[0, :1].tolist(), neg[0, :1].tolist(), pos[1].tolist(), neg[1].tolist()
        expected = np.mean(plus(p0, n0) + plus(p1, n1)) + np.mean(minus(p0, n0) + minus(p1, n1))
        self.assertAlmostEqual(list_loss(pos, neg, mask).item(), expected, places=5)

    def test_choices_stay_pairs(self):
        # Two slots: a choice between two images of one prompt, and a single like and dislike.
        pos = torch.tensor([[[2.0, 0.5], [1.0, 0.0]]])
        neg = torch.tensor([[[0.0, 1.5], [3.0, -1.0]]])
        single = torch.tensor([[False, True]])
        choice_plus, choice_minus = softplus(2.0 - 0.0), softplus(1.5 - 0.5)
        single_plus, single_minus = softplus(1.0 - 3.0), softplus(-1.0 - 0.0)
        expected = (choice_plus + single_plus) / 2 + (choice_minus + single_minus) / 2
        self.assertAlmostEqual(list_loss(pos, neg, ALL(1, 2), single).item(), expected, places=6)

    def test_gradients_match_finite_differences_and_an_empty_batch_is_zero(self):
        torch.manual_seed(1)
        logits = (torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True), torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True))
        mask = torch.tensor([[True, True, False], [True, False, False]])
        self.assertTrue(torch.autograd.gradcheck(lambda p, n: list_loss(p, n, mask), logits))
        none = list_loss(*logits, torch.zeros(2, 3, dtype=torch.bool))
        self.assertEqual(none.item(), 0.0)

    def test_first_slots_mark_each_targets_first_appearance(self):
        episodes = [SimpleNamespace(pos=np.array([4, 5, 4]), neg=np.array([6, 6, 6])), SimpleNamespace(pos=np.array([1]), neg=np.array([2]))]
        likes, dislikes = first_slots(episodes, 3)
        self.assertEqual(likes.tolist(), [[True, True, False], [True, False, False]])
        self.assertEqual(dislikes.tolist(), [[True, False, False], [True, False, False]])


class TheTrainer(unittest.TestCase):
    def test_it_trains_with_the_list_form_and_says_so(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"))
        listed, _ = train_small(root, "list", "--cp-form", "list")
        paired, _ = train_small(root, "pairs")
        base, _ = train_small(root, "base", "--loss", "base", "--cp-form", "list")
        self.assertEqual((listed["cp_form"], paired["cp_form"], base["cp_form"]), ("list", "pairs", None))
        self.assertNotEqual(listed["epochs"][-1]["loss"], paired["epochs"][-1]["loss"])
        self.assertTrue(os.path.exists(os.path.join(root, "list", "model.onnx")))
