import ctypes
import os
import subprocess
import sys
import unittest


def openblas_loads() -> bool:
    try:
        ctypes.CDLL("libopenblas.so.0")
        return True
    except OSError:
        return False


class BlasThreads(unittest.TestCase):
    @unittest.skipUnless(openblas_loads() and (os.cpu_count() or 1) > 1,
                         "needs OpenBLAS and 2 cores: on one core OpenBLAS runs one thread anyway")
    def test_numpy_runs_one_blas_thread_under_the_trainer_unless_told_otherwise(self):
        # With OpenBLAS's default of a thread per core, the trainer's small fits spun 18x slower
        # beside one busy process (trainer/__init__.py).
        count = "import trainer, numpy, ctypes; print(ctypes.CDLL('libopenblas.so.0').openblas_get_num_threads())"
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        one = subprocess.run([sys.executable, "-c", count], env=env, capture_output=True, text=True, check=True)
        self.assertEqual(one.stdout.strip(), "1")
        told = subprocess.run([sys.executable, "-c", count], env={**env, "OPENBLAS_NUM_THREADS": "2"},
                              capture_output=True, text=True, check=True)
        self.assertEqual(told.stdout.strip(), "2")


if __name__ == "__main__":
    unittest.main()
