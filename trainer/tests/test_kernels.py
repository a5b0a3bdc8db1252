import json
import os
import subprocess
import sys
import tempfile
import unittest

from trainer.kernels import describe, openblas_core
from trainer.tests.helpers import taste_world, train_small

SHOW = "import json, trainer.kernels as k; print(json.dumps(k.cpu_kernels()))"


def kernels_under(**settings):
    """cpu_kernels() in a fresh interpreter with these environment variables (both unset otherwise)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY")}
    done = subprocess.run([sys.executable, "-c", SHOW], env={**env, **settings}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


class Kernels(unittest.TestCase):
    @unittest.skipUnless(openblas_core() is not None and os.uname().machine == "x86_64",
                         "needs OpenBLAS on x86-64, where every CPU runs its Nehalem kernels")
    def test_what_is_recorded_is_what_the_settings_chose(self):
        chosen = kernels_under(OPENBLAS_CORETYPE="Nehalem", ATEN_CPU_CAPABILITY="default")
        self.assertEqual(chosen, {"openblas": "Nehalem", "aten": "DEFAULT"})
        # The line a table carries repeats them.
        self.assertIn("OPENBLAS_CORETYPE=Nehalem ATEN_CPU_CAPABILITY=default", describe(chosen))
        again = describe(chosen).split("to repeat: ")[1].rstrip(")")
        self.assertEqual(kernels_under(**dict(s.split("=") for s in again.split())), chosen)

    def test_a_model_trained_before_kernels_were_recorded_says_so(self):
        self.assertEqual(describe(None), "not recorded")
        self.assertEqual(describe({"openblas": None, "aten": "AVX2"}), "OpenBLAS absent, ATen AVX2 (to repeat: ATEN_CPU_CAPABILITY=avx2)")

    def test_the_trainer_records_the_kernels_it_trained_on(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        metrics, _ = train_small(root, "out")
        self.assertEqual(metrics["cpu_kernels"], kernels_under(**{k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY")
                                                                   if k in os.environ}))


if __name__ == "__main__":
    unittest.main()
