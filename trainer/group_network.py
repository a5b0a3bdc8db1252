"""The taste-group network (issue 14, session 42): a small tenant's user embedding from a second
network trained on more episodes than the network that scores.

The preference tokens that group users form only after about 200,000 training episodes
(docs/taste-groups.md; the nightly's TRAINING_GROUP_EPISODES), while a tenant of a few hundred
users scores best after 20,000-40,000 and worse the longer it trains: on MovieLens a network
drawing at least 9,600 episodes an epoch scored -1.52 ± 0.61 pairwise against one drawing its
natural 8 a user (docs/preference-model.md, "Session 38" and "Session 42"). One network cannot
serve both, so where the minimum binds the trainer trains two: the scores are the first's, the
user embedding (similar users, taste groups) the second's.

Where it starts and which epoch it keeps (session 44): `trainer.train --group-start scoring` starts
a first taste-group network from the scoring network just trained, so that its tokens build on the
episodes that network drew, and `--group-keep last` keeps its last epoch, since validation pairwise
(what the scoring network serves) says nothing of its groups and kept a scoring start's first
epoch. The nightly passed both with `--group-epochs` 8: through the platform the six-group world
grouped at ARI 0.855-0.873 at k = 6 over trainer seeds 0-4, against 0.688-0.855 for 20 epochs
from the scoring network's start kept by validation, and the run took 5.8-6.2 minutes instead of
9.1-9.2. Since session 54 it passes 16: with 8, some draws' groups were left unformed (offline ARI
0.679-0.928 over seeds 0-4 of a first model from the base model, against 0.878-0.905 with 16),
and a 240-user tenant's on two seeds of three. A fine-tune's taste-group network continues its
checkpoint's.

The model stays one module under the ONNX contract: logits from `inner` (anything build_model
builds), the user embedding from `group`'s tokens alone (PreferenceModel.token_embedding: the
history against each token's taste, no attention), so serving adds a product of the history
with L_p tastes, not a second network's pass.
"""
import dataclasses

import torch
import torch.nn as nn

from .model import ModelConfig, PreferenceModel
from .token_init import class_tastes, set_token_tastes


def group_config(config: ModelConfig) -> ModelConfig:
    """The taste-group network's config: the served network's shape, its own tokens
    (config.group_tokens; 0: as many as the served network's), and none of the parts that only
    move scores (the regression, the floor, the served parts)."""
    return ModelConfig(embedding_dim=config.embedding_dim, width=config.width, heads=config.heads,
                       encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers,
                       preference_tokens=config.group_tokens or config.preference_tokens, dropout=config.dropout,
                       token_attention=config.token_attention)


class WithGroupNetwork(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if not config.group_network:
            raise ValueError("group_network: WithGroupNetwork is the model with a taste-group network; got a config without one")
        if not config.preference_tokens:
            raise ValueError("group_network: the taste-group network's embedding is its preference tokens; got preference_tokens 0")
        from .network_average import build_model   # imported here: build_model builds this class
        self.config = config
        self.inner = build_model(dataclasses.replace(config, group_network=False))
        self.group = PreferenceModel(group_config(config))

    def forward(self, history, history_label, history_mask, candidates):
        logits, _ = self.inner(history, history_label, history_mask, candidates)
        # As encode does: padded slots may hold anything, and a token's fit must not read them.
        history = history.masked_fill(~history_mask.unsqueeze(-1), 0.0)
        user, _ = self.group.token_embedding(history, history_label, history_mask)
        return logits, user

    @classmethod
    def of(cls, model: nn.Module, group: PreferenceModel):
        """`model` (anything build_model builds) with `group`'s user embedding: copies of both."""
        out = cls(dataclasses.replace(model.config, group_network=True, group_tokens=group.config.preference_tokens))
        out.inner.load_state_dict(model.state_dict())
        wanted = out.group.state_dict().keys()
        # A network trained with --global-floor or --user-fit carries scorers the embedding never reads.
        out.group.load_state_dict({k: v for k, v in group.state_dict().items() if k in wanted})
        return out.eval()


# The classes' posterior is tempered: each label's log-likelihood counts half. The platform groups
# the training users too, whose labels the classes were fitted on; at 1, their posteriors sat on
# one class each, and on the six-group world's 800 training users silhouette chose 7-8 groups of
# 6 (offline, k up to 12; 8 through the platform on seeds 3 and 4). At 0.5 it chose 6 on each of
# 3 seeds offline (7 and 6 through the platform), and the test users grouped as well
# (docs/taste-groups.md, "Latent classes as the taste groups").
CLASS_TEMPERATURE = 0.5
# metrics.json's group_network.started_from for class_group_network, which the export reads back
# into the metadata's user_embedding_from.
FROM_CLASSES = "latent classes"


def class_group_network(config: ModelConfig, dataset, users, seed: int, classes: int) -> PreferenceModel:
    """The taste-group network of `trainer.train --group-from classes` (session 55): untrained,
    its tokens' tastes EM's latent classes (trainer/latent_classes.py) fitted on `users`, one token
    per class (`classes` of them; class_count.py chooses how many, session 56). token_embedding
    then weighs the classes by how well each explains the history (EM's posterior under an even
    prior, tempered by CLASS_TEMPERATURE) and mixes their tastes. On the
    six-group world the tokens that training shapes grouped a small tenant's users worse:
    ARI 0.36 against 0.59 at 62 users, 0.52 against 0.83 at 122 (docs/taste-groups.md, "Latent
    classes as the taste groups"). Its random weights come from a generator of their own, so the
    runs after it draw what they drew."""
    if not 2 <= classes <= config.width:
        raise ValueError(f"classes: the taste-group network needs 2 to {config.width} (its width) classes, got {classes}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        group = PreferenceModel(group_config(dataclasses.replace(config, group_tokens=classes)))
    set_token_tastes(group, class_tastes(dataset, users, classes, seed))
    with torch.no_grad():
        group.token_temperature.fill_(CLASS_TEMPERATURE)
    return group.eval()


def split(model: nn.Module):
    """(the scoring model, the taste-group network or None)."""
    return (model.inner, model.group) if isinstance(model, WithGroupNetwork) else (model, None)
