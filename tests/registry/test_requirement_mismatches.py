"""The CLI's requirement check (package metadata, nothing imported) names what the environment does not satisfy."""

from __future__ import annotations

from importlib.metadata import version

from clipzoo.registry.loading import requirement_mismatches


def test_mismatched_and_missing_packages_are_named_and_satisfied_ones_are_not(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        f"torch=={version('torch')}\nnumpy==0.0.1\nclipzoo-no-such-package==1.0\n"
        "# a comment\n-r other.txt\nplatform-only==1.0; sys_platform == 'nonexistent'\n"
    )
    assert requirement_mismatches(tmp_path) == [
        f"numpy (required: ==0.0.1, installed: {version('numpy')})",
        "clipzoo-no-such-package (required: ==1.0, installed: none)",
    ]
    assert requirement_mismatches(tmp_path / "absent") == []
