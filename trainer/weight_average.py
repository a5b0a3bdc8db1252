"""A moving average of the model's weights over training (Polyak averaging; issue 14, session 17).

With few training users, or few interactions each, the weights after any one step carry the
noise of the last batches, and the epoch the validation users pick carries the noise of their
few pairs. The exponential moving average of the weights over about the last E epochs is a
model between those snapshots, usually flatter and better on unseen users, and it costs one
multiply-add per parameter and step. The trainer validates (and keeps) the averaged weights in
place of the raw ones when asked (`trainer.train --average-epochs E`).
"""
from contextlib import contextmanager

import torch


class WeightAverage:
    """The exponential moving average of a model's floating-point weights.

    The decay is 1 - 1 / (epochs * steps_per_epoch), so the average spans about `epochs` epochs
    whatever the tenant's size. Until that many steps have passed it is 1 - 1 / t instead, the
    plain mean of the steps so far, so the random initial weights count for nothing. (The
    common (1 + t) / (10 + t) warm-up was tried first: it kept the span under one epoch until
    epoch 9 on MovieLens, past the epochs the validation users keep, so spans of 1 and 3
    epochs trained identical models.)"""

    def __init__(self, model: torch.nn.Module, epochs: float, steps_per_epoch: int):
        if epochs <= 0:
            raise ValueError(f"epochs: expected a positive span, got {epochs}")
        self.decay = 1.0 - 1.0 / max(1.0, epochs * steps_per_epoch)
        self.updates = 0
        self.averaged = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, 1.0 - 1.0 / self.updates)
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.averaged[name].mul_(decay).add_(value.detach(), alpha=1.0 - decay)
            else:
                self.averaged[name].copy_(value)

    def state_dict(self) -> dict:
        return {k: v.detach().cpu().clone() for k, v in self.averaged.items()}

    @contextmanager
    def applied(self, model: torch.nn.Module):
        """The model carries the averaged weights inside the block, its own again after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.averaged)
        try:
            yield model
        finally:
            model.load_state_dict(own)
