"""Several networks of one config, trained apart, their logits averaged (issue 14, session 17).

Networks trained with other seeds (initial weights and episodes) on the same users err
differently, more so where training users or their interactions are few; the average of
their log-odds is steadier than any one of them. Measured on MovieLens before this was built
(docs/preference-model.md, session 17): two seeds' networks, each with the regression
ensemble, averaged, led the single networks by +0.36 ± 0.22 pairwise over users on disjoint
pairs of seeds. The cost is K times the training and K times the network's part of serving.

The average is one module under the same ONNX contract: logits are the members' mean (their
log-odds M+ - M- average with them, so a regression attached to every member at one weight is
the regression attached to the average); the user embedding is the first member's, since
different networks' tokens are not comparable coordinates.
"""
import dataclasses

import torch
import torch.nn as nn

from .model import ModelConfig, PreferenceModel


class NetworkAverage(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.networks < 2:
            raise ValueError(f"networks: an average needs at least 2, got {config.networks}")
        self.config = config
        member = dataclasses.replace(config, networks=1)
        self.members = nn.ModuleList([PreferenceModel(member) for _ in range(config.networks)])

    def forward(self, history, history_label, history_mask, candidates):
        outputs = [m(history, history_label, history_mask, candidates) for m in self.members]
        return torch.stack([logits for logits, _ in outputs]).mean(0), outputs[0][1]

    @classmethod
    def of(cls, members):
        """The average of these trained networks (one config, networks = 1 each)."""
        config = dataclasses.replace(members[0].config, networks=len(members))
        average = cls(config)
        for mine, theirs in zip(average.members, members):
            if theirs.config != members[0].config:
                raise ValueError("NetworkAverage.of: the members' configs differ")
            mine.load_state_dict(theirs.state_dict())
        return average


def build_model(config: ModelConfig) -> nn.Module:
    """The model a config describes: one network, or the average of `config.networks`, with the
    items' like rates added when `config.item_memory` (item_rates.py), the co-likes over those
    when `config.co_like_memory` (co_likes.py), the latent classes over those when
    `config.latent_class_count` (served_latent_classes.py), and the global pairwise preference
    outside all when `config.choice_memory` (choice_prior.py), and the user embedding from a
    taste-group network when `config.group_network` (group_network.py)."""
    if config.group_network:
        from .group_network import WithGroupNetwork   # imported here: it builds its inner model with this function
        return WithGroupNetwork(config)
    if config.choice_memory:
        from .choice_prior import WithChoicePrior   # imported here: it builds its inner model with this function
        return WithChoicePrior(config)
    if config.latent_class_count:
        from .served_latent_classes import WithLatentClasses   # imported here, as above
        return WithLatentClasses(config)
    if config.co_like_memory:
        from .co_likes import WithCoLikes   # imported here, as above
        return WithCoLikes(config)
    if config.item_memory:
        from .item_rates import WithItemRates   # imported here: it builds its inner model with this function
        return WithItemRates(config)
    return PreferenceModel(config) if config.networks == 1 else NetworkAverage(config)


def members_of(model: nn.Module) -> list:
    """The networks that score in a model: itself, an average's members, or those of the model item
    rates, co-likes, latent classes or the choice prior were added to (a taste-group network's not)."""
    from .log_odds_part import without_parts   # imported here, as in build_model
    model = without_parts(model)
    return list(model.members) if isinstance(model, NetworkAverage) else [model]
