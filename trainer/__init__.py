"""The preference model's trainer, its evaluation and its benches (python3 -m trainer.<module>)."""
import os

# Every module here does its numpy work on small matrices (the regressions, EM's classes, the
# co-likes), and numpy's OpenBLAS spins its threads while it waits for one another: with one other
# process busy on a 2-core machine, choosing and fitting a 300-user tenant's latent classes took
# 27 s on OpenBLAS's default 2 threads against 1.5 s on one (18x), and the nightly's training test
# ran past its limits. Set before numpy is first imported (a package's __init__ runs before its
# modules); an OPENBLAS_NUM_THREADS or MKL_NUM_THREADS already set is kept. torch's own threads are
# the trainer's --threads.
for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
