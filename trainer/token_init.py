"""Preference tokens that start as the tenant's latent classes (issue 14, session 36:
`trainer.train --token-init classes`).

Each preference token has a taste, a linear scorer over item vectors (model.token_taste), and a
user's tokens are weighed by how well each taste explains the history (model.token_mixture: a
softmax of the history's log-likelihoods). That is the latent-class model of
trainer/latent_classes.py inside the network, but its tastes start random and are learned by
backpropagation alone: the tokens' taste alone scored 63.5 pairwise on the default world where
EM's classes score 66.6 (session 28). Here EM's classes, fitted on the users the network trains
on, are the tokens' tastes at the start, and training refines them with the rest of the network.

The tastes are token_taste(tokens) = tokens @ A^T + b. The tokens keep their random directions
(they are also the keys and values the history reads, always through a LayerNorm, so their scale
changes nothing there) scaled to unit spread, so that A is not 50 times the classes; b is the
classes' mean and A the least-norm solution of tokens @ A^T = classes - mean, exact while the
tokens are no more than the width.

Measured and not adopted (session 36, docs/preference-model.md): far ahead after the first epoch,
level at the kept epoch on the worlds with groups, and behind on MovieLens, where the network
then fits its training users better and generalises worse.
"""
import numpy as np
import torch

from .data import subset
from .latent_classes import fit_latent_classes


def class_tastes(dataset, users, tokens: int, seed: int) -> np.ndarray:
    """[tokens, D + 1]: EM's latent classes (weights and bias) fitted on `users` of `dataset`."""
    weights, _ = fit_latent_classes(subset(dataset, users), tokens, seed)
    return weights


@torch.no_grad()
def set_token_tastes(network, tastes: np.ndarray):
    """Sets the network's token_taste so that token_taste(tokens) is `tastes` [L_p, D + 1]."""
    network.tokens.div_(network.tokens.std())
    tokens = network.tokens.detach().double()
    target = torch.as_tensor(tastes, dtype=torch.float64)
    if target.shape != (tokens.shape[0], network.token_taste.out_features):
        raise ValueError(f"tastes: expected shape {(tokens.shape[0], network.token_taste.out_features)}, got {tuple(target.shape)}")
    mean = target.mean(0)
    solution = torch.linalg.lstsq(tokens, target - mean, driver="gelsd").solution       # [W, D + 1], least norm
    network.token_taste.weight.copy_(solution.T.to(network.token_taste.weight.dtype))
    network.token_taste.bias.copy_(mean.to(network.token_taste.bias.dtype))
