"""The package's annotations hold (py.typed): mypy on the package and on SDK.md's Python."""
import importlib.util
import subprocess
import sys

import pytest

from conftest import HERE


def test_mypy_accepts_the_package_and_sdk_md_usage():
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed (scripts/test installs it: pip install mypy)")
    src = HERE.parent / "src"
    r = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--python-version", "3.10", "--disallow-untyped-defs",
                        str(src / "portcullis"), str(HERE / "typed_usage.py")],
                       capture_output=True, text=True, env={"MYPYPATH": str(src), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
