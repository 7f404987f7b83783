"""`smstudio demo --deny`: the test-only fault flag (no browser, no server)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smstudio_ext.cli.demo import _deny_spec
from smstudio_ext.errors import BadInput


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("ListTags", ("sagemaker", "ListTags")), ("s3:PutObject", ("s3", "PutObject"))],
)
def test_deny_spec_defaults_to_sagemaker(spec, expected):
    assert _deny_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", ":ListTags", "s3:"])
def test_bad_deny_spec_is_refused(spec):
    with pytest.raises(BadInput, match="SERVICE:"):
        _deny_spec(spec)


def test_bad_deny_flag_exits_2_before_starting_anything():
    proc = subprocess.run(
        [sys.executable, "-m", "smstudio_ext", "demo", "--deny", "s3:"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--deny wants [SERVICE:]OPERATION" in proc.stderr
