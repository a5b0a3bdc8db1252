"""Which CPU kernels the trainer's arithmetic runs on, recorded with every model and bench table.

The same training command gives other weights under other kernels: OpenBLAS and ATen each pick
kernels for the CPU they find (OpenBLAS's DYNAMIC_ARCH, ATen's CPU capability), and kernels of
other vector widths sum in another order. Training is deterministic on one machine, so this was
invisible until two machines disagreed: the 64,000-user short-history world's pairwise lead was
+0.52 ± 0.23 under OpenBLAS's Haswell kernels and ATen's AVX2, and +0.42 ± 0.25 under another
machine's own choice (OpenBLAS's Cooperlake), the same commands and seeds
(docs/preference-model.md, sessions 29 and 30). OPENBLAS_CORETYPE and ATEN_CPU_CAPABILITY choose
them, so a figure repeats on another machine when both are set as recorded.
"""
import ctypes

import torch

CAPABILITY_LINE = "CPU capability usage:"


def openblas_core() -> str | None:
    """The kernels OpenBLAS chose (its core name, e.g. "Haswell"), or None without OpenBLAS."""
    import numpy  # noqa: F401  (loads the OpenBLAS numpy runs on, so the name below is the one it uses)
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None
    corename = lib.openblas_get_corename
    corename.restype = ctypes.c_char_p
    return corename().decode()


def aten_capability() -> str:
    """The vector instructions ATen's CPU kernels use, as ATEN_CPU_CAPABILITY names them in upper
    case ("AVX2", "AVX512", "DEFAULT")."""
    cpu = getattr(torch.backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):   # torch 2.1 and later
        return cpu.get_cpu_capability()
    for line in torch.__config__.show().splitlines():              # torch 1.13, Debian 12's
        if CAPABILITY_LINE in line:
            shown = line.split(CAPABILITY_LINE, 1)[1].strip()
            return "DEFAULT" if shown == "NO AVX" else shown          # what 1.13 calls "default"
    return "unknown"


def cpu_kernels() -> dict:
    """{"openblas": core name or None, "aten": capability}."""
    return {"openblas": openblas_core(), "aten": aten_capability()}


def describe(kernels: dict | None) -> str:
    """One line for a table's caption, and the settings that repeat it on another machine."""
    if not kernels:
        return "not recorded"
    core = kernels.get("openblas")
    settings = ([f"OPENBLAS_CORETYPE={core}"] if core else []) + [f"ATEN_CPU_CAPABILITY={kernels['aten'].lower()}"]
    return f"OpenBLAS {core or 'absent'}, ATen {kernels['aten']} (to repeat: {' '.join(settings)})"
