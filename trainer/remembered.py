"""Items a model remembers by their vectors, matched inside the ONNX graph (issue 14).

The item rates (item_rates.py) and the co-likes (co_likes.py) each remember some items the
training users rated and look up a history's or a candidate's vector among them. The ONNX contract passes vectors, not ids, so the
lookup is by vector: the nearest remembered item on a few fixed directions, then the full
vectors compared, so a new image (no remembered item) is never taken for one.
"""
import torch

# The nearest remembered item is looked for among the vectors' projections on this many fixed
# directions (cheaper than the full vectors when D is large), then the full vectors are compared,
# so a projection that happens to bring two items close can only miss a rate, never give a wrong one.
KEY_DIMENSIONS = 8
# A candidate is a remembered item when its squared distance to it is within this share of its
# squared norm: float32 round-off of the same vector is about 1e-6 of it, two distinct items
# of any real data far more than 1e-4.
MATCH_TOLERANCE = 1e-4


def key_directions(dim: int) -> torch.Tensor:
    """[D, k]: the KEY_DIMENSIONS fixed directions (from seed 0) on which a vector's nearest
    remembered item is looked for."""
    directions = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(0)))[0]
    return directions[:, :min(KEY_DIMENSIONS, dim)].contiguous()


def match_remembered(vectors, memory_vectors, directions):
    """(nearest [...], known [...]) for vectors [..., D]: the index of the remembered item
    (`memory_vectors` [K, D]) nearest each among the projections on `directions`, and whether it
    is that item (its vector within float32 round-off). Inside the ONNX graph."""
    keys = memory_vectors @ directions                                               # [K, k]
    # The nearest key: argmax of c.m - |m|^2 / 2 is argmin of |c - m|^2 (|c|^2 is the same for
    # all), one product of [c, 1] with [m, -|m|^2 / 2] (the memory's side is a constant).
    keys = torch.cat([keys, -0.5 * (keys * keys).sum(-1, keepdim=True)], -1)         # [K, k + 1]
    projected = vectors @ directions
    projected = torch.cat([projected, torch.ones_like(projected[..., :1])], -1)      # [..., k + 1]
    nearest = (projected @ keys.T).argmax(-1)
    gap = vectors - memory_vectors[nearest]
    return nearest, (gap * gap).sum(-1) <= MATCH_TOLERANCE * (vectors * vectors).sum(-1)
