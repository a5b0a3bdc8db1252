"""The precision of the networks' forward passes while they train (`trainer.train --autocast`).

Under bfloat16 autocast the products (Linear, matmul, bmm) run in bfloat16 (through oneDNN on a
CPU with AVX-512, below) while the weights, their gradients, the optimiser and the loss stay
float32. Where the CPU has native bfloat16 dot products (the `avx512_bf16` flag, or AMX) that
trained the shipped design in 0.6-0.8x the time to the same accuracy (docs/preference-model.md,
session 47). Elsewhere they are emulated:
torch 1.13 hands bfloat16 products to oneDNN only on a CPU with AVX-512 (BW, VL and DQ: its
mkldnn_bf16_device_check), and multiplies in its own unvectorised loops on any other. On an AMD
EPYC with AVX2 alone that made the training loop EMULATED_COST float32's (session 49). So "auto"
asks for the flag, and a "bf16" given on a CPU without it is warned of (emulation_warning).
Validation, the parts fitted after training and the export run in float32 either way.
"""
from contextlib import contextmanager

import torch

from .kernels import cpu_flags

SETTINGS = ("auto", "off", "bf16")
# The CPU flags (as /proc/cpuinfo lists them) of native bfloat16 dot products.
NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}
# Emulated bfloat16's training loop over float32's where the CPU lacks those flags (MovieLens, the
# shipped design at 4 epochs, medians of 3 seeds run alone on an AMD EPYC with AVX2; session 49).
EMULATED_COST = "9.6x"


def emulated(mode: str, device: str, flags: set | None = None) -> bool:
    """Whether `mode` runs bfloat16 products on a CPU without native ones (`flags`, default this
    machine's), where they are emulated (this module's docstring)."""
    return mode == "bf16" and device == "cpu" and not NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags)


def emulation_warning(mode: str, device: str, flags: set | None = None) -> str | None:
    """The line the trainer prints where `mode` is emulated (emulated), else None."""
    if not emulated(mode, device, flags):
        return None
    return (f"--autocast bf16: this CPU lists no native bfloat16 products ({' or '.join(sorted(NATIVE_BF16_FLAGS))} in "
            f"/proc/cpuinfo), so they are emulated: the training loop took {EMULATED_COST} float32's on such a CPU "
            "(docs/preference-model.md, session 49). --autocast auto trains in float32 here")


def chosen_autocast(setting: str, device: str, flags: set | None = None) -> str:
    """"bf16" or "off" for a --autocast `setting` on `device`: auto is bf16 on a CPU that lists
    native bfloat16 (`flags`, default this machine's), off on any other CPU and on CUDA, whose
    training has been measured in float32 only."""
    if setting != "auto":
        return setting
    if device != "cpu":
        return "off"
    return "bf16" if NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags) else "off"


@contextmanager
def float32_layer_norms(model: torch.nn.Module, enabled: bool):
    """Within it, `model`'s LayerNorms take their input as float32. torch 1.13's CPU autocast
    leaves layer_norm alone, so a bfloat16 Linear's output reaching a float32 LayerNorm fails
    ("expected scalar type BFloat16 but found Float"); the next Linear casts it back. The hooks
    are removed on leaving, so validation and the export see the model as it was."""
    hooks = [m.register_forward_pre_hook(lambda _, inputs: tuple(x.float() for x in inputs))
             for m in model.modules() if enabled and isinstance(m, torch.nn.LayerNorm)]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def forward_autocast(device: str, mode: str):
    """The context a training step's forward pass runs in: bfloat16 autocast for mode "bf16"."""
    return torch.autocast(device, dtype=torch.bfloat16, enabled=mode == "bf16")
