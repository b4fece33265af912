"""scripts/video_to_pose.py in clipzoo's own environment, where its extra (mediapipe==0.10.21) cannot be installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "video_to_pose.py"
REQUIREMENTS = REPO / "scripts" / "requirements-mediapipe.txt"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is not None, reason="mediapipe is installed in this environment"
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_without_mediapipe_it_exits_2_naming_the_package_and_the_requirements_file(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    result = run(str(video), "--out-dir", str(tmp_path / "poses"))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0, message  # one line, no traceback
    assert "mediapipe" in message and "mediapipe==0.10.21" in message
    assert f"pip install -r {REQUIREMENTS}" in message
    assert not (tmp_path / "poses").exists()


def test_help_and_argument_errors_need_no_mediapipe():
    helped = run("--help")
    assert helped.returncode == 0 and "requirements-mediapipe.txt" in helped.stdout and "--layout" in helped.stdout
    clash = run("a.mp4", "b.mp4", "-o", "x.pose")
    assert clash.returncode == 2 and "-o/--output takes one video" in clash.stderr


def test_requirements_pin_the_offline_holistic_stack():
    pins = {line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()} - {""}
    assert {"mediapipe==0.10.21", "numpy<2", "protobuf>=4.25.3,<5", "pose-format==0.15.0"} <= pins
