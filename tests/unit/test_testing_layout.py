"""The Avocado layer lives in avocado_rr.testing; the old module names
stay importable (and discoverable by Avocado) as aliases."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AVOCADO = Path(sys.executable).with_name("avocado")


def test_no_library_module_is_named_like_a_test():
    for path in (ROOT / "avocado_rr").rglob("*.py"):
        name = path.name
        assert not (name.startswith("test") or name.endswith("_test.py")), \
            path


def test_the_old_names_are_the_same_classes():
    from avocado_rr import linux_test, test
    from avocado_rr.testing import kernel, known_failure, linux
    assert test.ReplayKernelTest is kernel.ReplayKernelTest
    assert test.KnownFailure is known_failure.KnownFailure
    assert linux_test.ReplayLinuxTest is linux.ReplayLinuxTest


def test_a_test_file_of_the_old_names_is_still_found(tmp_path):
    old = tmp_path / "old_names.py"
    old.write_text(
        "from avocado_rr.test import ReplayKernelTest\n"
        "from avocado_rr.linux_test import ReplayLinuxTest\n\n\n"
        "class Kernel(ReplayKernelTest):\n"
        "    def test_k(self):\n        pass\n\n\n"
        "class Linux(ReplayLinuxTest):\n"
        "    def test_l(self):\n        pass\n")
    listed = subprocess.run([str(AVOCADO), "list", str(old)],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert listed.returncode == 0, listed.stderr
    lines = sorted(listed.stdout.split("\n"))
    assert f"avocado-rr-instrumented {old}:Kernel.test_k" in lines
    assert f"avocado-rr-instrumented {old}:Linux.test_l" in lines
