import json
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from trainer.kernels import cpu_flags, describe, fitting_core, openblas_core
from trainer.tests.helpers import kernels_a_trainer_gets, taste_world, train_small

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

    def test_fitted_kernels_say_what_openblas_chose_and_repeat_the_fitted_ones(self):
        self.assertEqual(describe({"openblas": "Cooperlake", "aten": "AVX2", "openblas_detected": "Prescott"}),
                         "OpenBLAS Cooperlake (fitted: OpenBLAS chose Prescott), ATen AVX2 "
                         "(to repeat: OPENBLAS_CORETYPE=Cooperlake ATEN_CPU_CAPABILITY=avx2)")

    def test_the_trainer_records_the_kernels_it_trained_on(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        metrics, _ = train_small(root, "out")
        self.assertEqual(metrics["cpu_kernels"], kernels_a_trainer_gets())


AVX512_BF16 = {"sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"}

# Run twice when the kernels are fitted: once told OpenBLAS chose Prescott, then started again
# under OPENBLAS_CORETYPE, where it prints what the new process trains on.
RESTART = """
import json, os, trainer.kernels as k
found = k.openblas_core
if "OPENBLAS_CORETYPE" not in os.environ:
    k.openblas_core = lambda: "Prescott"
k.fit_openblas_kernels()
k.openblas_core = found
print(json.dumps(k.cpu_kernels()))
"""


class FittedKernels(unittest.TestCase):
    def test_a_fallback_core_is_fitted_to_the_widest_the_flags_allow(self):
        self.assertEqual(fitting_core("Prescott", AVX512_BF16), "Cooperlake")
        self.assertEqual(fitting_core("Prescott", AVX512_BF16 - {"avx512_bf16"}), "SkylakeX")
        self.assertEqual(fitting_core("Nehalem", {"avx", "avx2", "fma"}), "Haswell")
        self.assertEqual(fitting_core("Sandybridge", {"avx", "avx2", "fma"}), "Haswell")

    def test_openblas_own_choice_of_a_core_with_avx2_stays(self):
        self.assertIsNone(fitting_core("Haswell", AVX512_BF16))
        self.assertIsNone(fitting_core("SkylakeX", AVX512_BF16))
        self.assertIsNone(fitting_core("Zen", AVX512_BF16))
        self.assertIsNone(fitting_core(None, AVX512_BF16))

    def test_a_cpu_without_avx2_keeps_its_fallback(self):
        self.assertIsNone(fitting_core("Prescott", {"sse3", "avx"}))
        self.assertIsNone(fitting_core("Prescott", set()))

    def test_flags_are_read_from_cpuinfo(self):
        path = os.path.join(tempfile.mkdtemp(), "cpuinfo")
        with open(path, "w") as f:
            f.write("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse3 avx2 fma\n")
        self.assertEqual(cpu_flags(path), {"fpu", "sse3", "avx2", "fma"})
        self.assertEqual(cpu_flags(path + ".missing"), set())

    @unittest.skipUnless(openblas_core() is not None and fitting_core("Prescott", cpu_flags()) is not None,
                         "needs OpenBLAS on a CPU with AVX2")
    def test_a_process_that_fell_back_starts_again_on_the_fitted_kernels(self):
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "TRAINER_OPENBLAS_DETECTED")}
        done = subprocess.run([sys.executable, "-c", RESTART], env=env, capture_output=True, text=True, check=True)
        chosen = json.loads(done.stdout)
        self.assertEqual(chosen["openblas"], fitting_core("Prescott", cpu_flags()))
        self.assertEqual(chosen["openblas_detected"], "Prescott")
        self.assertIn("OpenBLAS chose its Prescott kernels", done.stderr)

    @unittest.skipUnless(openblas_core() is not None and os.uname().machine == "x86_64",
                         "needs OpenBLAS on x86-64, where every CPU runs its Nehalem kernels")
    def test_the_trainer_keeps_the_kernels_openblas_coretype_chose(self):
        root = tempfile.mkdtemp()
        taste_world(os.path.join(root, "data"), users=40, items=60, dim=6, per_user=24, groups=2)
        with mock.patch.dict(os.environ, {"OPENBLAS_CORETYPE": "Nehalem"}):
            metrics, _ = train_small(root, "out")
        self.assertEqual(metrics["cpu_kernels"]["openblas"], "Nehalem")
        self.assertNotIn("openblas_detected", metrics["cpu_kernels"])


if __name__ == "__main__":
    unittest.main()
