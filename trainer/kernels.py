"""Which CPU kernels the trainer's arithmetic runs on, recorded with every model and bench table.

The same training command gives other weights under other kernels: OpenBLAS and ATen each pick
kernels for the CPU they find (OpenBLAS's DYNAMIC_ARCH, ATen's CPU capability), and kernels of
other vector widths sum in another order. Training is deterministic on one machine, so this was
invisible until two machines disagreed: the 64,000-user short-history world's pairwise lead was
+0.52 ± 0.23 under OpenBLAS's Haswell kernels and ATen's AVX2, and +0.42 ± 0.25 under another
machine's own choice (OpenBLAS's Cooperlake), the same commands and seeds
(docs/preference-model.md, sessions 29 and 30). OPENBLAS_CORETYPE and ATEN_CPU_CAPABILITY choose
them, so a figure repeats on another machine when both are set as recorded.

OpenBLAS 0.3.21 (Debian 12's) does not know every CPU it meets: on some of this project's
machines ("Intel(R) Xeon(R) Processor", AVX-512) it fell back to its Prescott kernels, which use
no AVX and ran the model's products 2-5x slower (docs/preference-model.md, session 46).
fit_openblas_kernels() gives such a trainer the kernels its CPU's flags support instead.
"""
import ctypes
import os
import sys

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


# OpenBLAS's x86-64 cores a fallback is fitted to, widest first, each with the flags its kernels
# need as Linux lists them in /proc/cpuinfo (Linux lists AVX-512 only where it enabled the
# registers, so a listed flag is one the trainer may use).
CORES_BY_FLAGS = (
    ("Cooperlake", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"}),
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
)
# The cores OpenBLAS falls back to for a CPU it does not know; none of them uses AVX2. A core
# outside this list (Haswell, Zen, ...) is OpenBLAS's own choice and stays: other kernels train
# other weights, so only a choice that costs several times the time is overridden.
FALLBACK_CORES = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "sandybridge"}
# Set in the trainer the override starts, so its metrics say which core OpenBLAS chose itself.
DETECTED_ENV = "TRAINER_OPENBLAS_DETECTED"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set:
    """The first CPU's flags, or an empty set where the file or its flags line is missing."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def fitting_core(detected: str | None, flags: set) -> str | None:
    """The core to train on instead of `detected`, or None to keep OpenBLAS's choice."""
    if detected is None or detected.lower() not in FALLBACK_CORES:
        return None
    return next((core for core, needs in CORES_BY_FLAGS if needs <= flags), None)


def fit_openblas_kernels():
    """Starts this process again under the kernels its CPU supports where OpenBLAS fell back to
    ones without AVX2; returns where it keeps its kernels. OPENBLAS_CORETYPE, where set, is a
    choice and stays (a restarted process has it set, so it does not restart again). OpenBLAS
    reads OPENBLAS_CORETYPE once, when it loads, hence a new process rather than a setting."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    detected = openblas_core()
    core = fitting_core(detected, cpu_flags())
    if core is None:
        return
    print(f"trainer: OpenBLAS chose its {detected} kernels on a CPU it does not know; "
          f"training on its {core} kernels, which this CPU supports (set OPENBLAS_CORETYPE to choose)",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "OPENBLAS_CORETYPE": core, DETECTED_ENV: detected})


def aten_capability() -> str:
    """The vector instructions ATen's CPU kernels use, as ATEN_CPU_CAPABILITY names them in upper
    case ("AVX2", "AVX512", "DEFAULT")."""
    import torch  # here, so the trainer can fit OpenBLAS's kernels before torch loads (fit_openblas_kernels)
    cpu = getattr(torch.backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):   # torch 2.1 and later
        return cpu.get_cpu_capability()
    for line in torch.__config__.show().splitlines():              # torch 1.13, Debian 12's
        if CAPABILITY_LINE in line:
            shown = line.split(CAPABILITY_LINE, 1)[1].strip()
            return "DEFAULT" if shown == "NO AVX" else shown          # what 1.13 calls "default"
    return "unknown"


def cpu_kernels() -> dict:
    """{"openblas": core name or None, "aten": capability}, and "openblas_detected": the core
    OpenBLAS chose itself where fit_openblas_kernels() overrode it."""
    detected = os.environ.get(DETECTED_ENV)
    return {"openblas": openblas_core(), "aten": aten_capability(), **({"openblas_detected": detected} if detected else {})}


def describe(kernels: dict | None) -> str:
    """One line for a table's caption, and the settings that repeat it on another machine."""
    if not kernels:
        return "not recorded"
    core = kernels.get("openblas")
    settings = ([f"OPENBLAS_CORETYPE={core}"] if core else []) + [f"ATEN_CPU_CAPABILITY={kernels['aten'].lower()}"]
    fitted = f" (fitted: OpenBLAS chose {kernels['openblas_detected']})" if kernels.get("openblas_detected") else ""
    return f"OpenBLAS {core or 'absent'}{fitted}, ATen {kernels['aten']} (to repeat: {' '.join(settings)})"
