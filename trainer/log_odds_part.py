"""What the served parts share (issue 14): the item rates, the co-likes, the latent classes and the
choice prior each wrap a model (anything network_average.build_model builds) and add a part of
their own to its log-odds M+ - M-:

    logits = scale * model's logits + weight * part(S, z) * [1/2, -1/2]

so Q = sigmoid(M+ - M-) moves by weight * part and the model's own log-odds by its scale. Each
part names its config fields (its size, its weight and, where the validation users fit one, the
model's scale), its buffers and part_log_odds; the rest is here, once. A part of size 0 is
absent: build_model builds the model inside without it.
"""
import dataclasses

import torch
import torch.nn as nn

from .group_network import split
from .model import ModelConfig


def check_weights(config: ModelConfig, names) -> ModelConfig:
    """`config`, or ValueError naming the first of its fields `names` that is negative."""
    for name in names:
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected a weight >= 0, got {getattr(config, name)}")
    return config


class LogOddsPart(nn.Module):
    """A model plus weight times a part's log-odds. Subclasses set SIZE, WEIGHT, SCALE (None where
    the model's log-odds are never scaled), NEEDS (what a size below 1 lacks, for its error),
    register their buffers and define part_log_odds."""
    SIZE: str
    WEIGHT: str
    SCALE: str | None = None
    NEEDS: str

    def __init__(self, config: ModelConfig):
        super().__init__()
        if getattr(config, self.SIZE) < 1:
            raise ValueError(f"{self.SIZE}: {self.NEEDS}, got {getattr(config, self.SIZE)}")
        check_weights(config, self.weight_fields())
        from .network_average import build_model   # imported here: build_model builds the subclasses
        self.config = config
        self.inner = build_model(dataclasses.replace(config, **self.absent()))

    @classmethod
    def weight_fields(cls) -> tuple:
        return (cls.WEIGHT,) if cls.SCALE is None else (cls.WEIGHT, cls.SCALE)

    @classmethod
    def weighing(cls, weight: float, scale: float) -> dict:
        """The config's fields for the part at `weight` and the model at `scale` (when it has one)."""
        return {cls.WEIGHT: float(weight), **({} if cls.SCALE is None else {cls.SCALE: float(scale)})}

    @classmethod
    def absent(cls) -> dict:
        """The config's fields as they are without this part."""
        return {cls.SIZE: 0, **cls.weighing(0.0, 1.0)}

    @classmethod
    def stripped(cls, model: nn.Module) -> nn.Module:
        """The model this part was added to (`model` itself when it is no such part)."""
        return model.inner if isinstance(model, cls) else model

    @classmethod
    def around(cls, model: nn.Module, size: int, weight: float, scale: float = 1.0, **fields):
        """A new part of `size` at `weight` (the model's log-odds at `scale`; any other config
        `fields` of the part's, such as the co-likes' rank) around a copy of `model` without any
        such part it had; its buffers are the caller's to fill."""
        model = cls.stripped(model)
        out = cls(dataclasses.replace(model.config, **{cls.SIZE: size}, **cls.weighing(weight, scale), **fields))
        out.inner.load_state_dict(model.state_dict())
        return out

    def reweighed(self, weight: float, scale: float = 1.0):
        """This model with the part at `weight` and the model's log-odds at `scale`, its buffers
        as they are."""
        self.config = check_weights(dataclasses.replace(self.config, **self.weighing(weight, scale)), self.weight_fields())
        return self

    def part_log_odds(self, history, history_label, history_mask, candidates) -> torch.Tensor:
        """[B, T]: the part's log-odds of each candidate being liked."""
        raise NotImplementedError

    def forward(self, history, history_label, history_mask, candidates):
        logits, user = self.inner(history, history_label, history_mask, candidates)
        part = getattr(self.config, self.WEIGHT) * self.part_log_odds(history, history_label, history_mask, candidates).unsqueeze(-1)
        # The rates never scale the model: no multiplication by 1 in their graph.
        scaled = logits if self.SCALE is None else getattr(self.config, self.SCALE) * logits
        return scaled + part * torch.tensor([0.5, -0.5], dtype=part.dtype, device=part.device), user


def without_parts(model: nn.Module) -> nn.Module:
    """The model every part was added to: one network or their average (without a taste-group network)."""
    model, _ = split(model)
    while isinstance(model, LogOddsPart):
        model = model.inner
    return model
