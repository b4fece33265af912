"""The wheel installs everything under `clipzoo.*` (no generic top-level `core` or `registry`), data files included."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_holds_the_clipzoo_namespace_and_imports(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("clipzoo-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"clipzoo"}
    for needed in [
        "clipzoo/core/train.py",
        "clipzoo/registry/pyfunc_model.py",
        "clipzoo/domains/image/prompts.json",
        "clipzoo/cli/main.py",
    ]:
        assert needed in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[clipzoo.domains]" in entry_points and "image = clipzoo.domains.image:ImageDomain" in entry_points
    assert "clipzoo = clipzoo.cli.main:main" in entry_points

    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = "import clipzoo.core.errors as m; print(m.__file__)"
    run = subprocess.run([sys.executable, "-S", "-c", probe], cwd=target, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(target))
