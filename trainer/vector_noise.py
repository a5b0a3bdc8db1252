"""Gaussian noise on the item vectors a network trains on (`trainer.train --vector-noise S`,
issue 14, session 48).

On MovieLens and its unseen vectors the network peaks by epoch 3-7 of 20 and then learns its few
hundred training users rather than users in general (session 26); dropout, weight decay, width
and depth did not move that. Noise on the inputs is another regulariser (for a linear model it
is a ridge penalty): every episode's history and target vectors get independent draws of
N(0, (S x spread)^2) per coordinate, spread being the vectors' root-mean-square deviation from
their mean, so S is in the catalogue's own units whatever an encoder's scale. Training only:
validation, the parts fitted after training and the export see the vectors as they are.

Measured (docs/preference-model.md, session 48), not adopted: within noise of none on both
worlds, and of opposite sign at S 0.3 (MovieLens -0.47 ± 0.46, unseen vectors +0.57 ± 0.49
pairwise over seeds and users).
"""
import numpy as np
import torch


def noise_spread(vectors: np.ndarray) -> float:
    """The vectors' root-mean-square deviation from their mean, per coordinate (in the vectors'
    own precision, as the measured runs computed it)."""
    return float(np.sqrt(np.mean(np.square(vectors - vectors.mean(axis=0)))))


class VectorNoise:
    """Adds N(0, sigma^2) to the vector tensors it is given, from its own seeded generator, so
    a run without noise draws nothing and trains exactly as before it existed."""

    def __init__(self, vectors: np.ndarray, share: float, seed: int):
        if share < 0:
            raise ValueError(f"vector noise: expected a share of the vectors' spread of at least 0, got {share}")
        self.sigma = share * noise_spread(vectors) if share else 0.0
        self.generator = torch.Generator().manual_seed(seed) if self.sigma else None

    def __call__(self, *tensors: torch.Tensor):
        """The tensors, each plus its own draw of noise (as they are when sigma is 0)."""
        if not self.sigma:
            return tensors
        return tuple(t + self.sigma * torch.randn(t.shape, generator=self.generator).to(t.device) for t in tensors)
