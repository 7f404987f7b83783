"""``smstudio -v`` shows botocore's debug log, which writes the session token, the request
signature and, for an assumed role, the new keys: every handler we install masks them
(issue 16). Run as a user would, in a separate process, against the emulator."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys

from smstudio_ext.redact import MASK, RedactFilter
from smstudio_ext.testing.accounts import create_member_accounts

ACCESS_KEY = "ASIAJTESTSESSIONKEY1"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//////////wEaDPnOPQ7mLhp1PHd3SyKr"


def run_verbose(aws, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_DEFAULT_REGION": aws.region,
        "SMSTUDIO_METADATA_PATH": os.devnull,
    }
    base = ["-v", "--endpoint-url", aws.endpoint_url, "--region", aws.region]
    return subprocess.run(
        [sys.executable, "-m", "smstudio_ext", *base, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def assert_no_secrets(log: str) -> None:
    assert TOKEN not in log and SECRET not in log
    assert TOKEN[:20] not in log and SECRET[:20] not in log  # not even a prefix
    # no signature in any of the places botocore writes one
    assert not re.search(r"Signature=[0-9a-f]{16}", log), "signature in a header"
    assert not re.search(r"Signature:\s*\n?[0-9a-f]{16}", log), "signature line"
    for value in re.findall(r"(?i)x-amz-security-token'?:\s*(?:b?')?([^\s',]+)", log):
        assert value == MASK, value
    for tag in ("SecretAccessKey", "SessionToken"):  # an assumed role's answer
        for value in re.findall(rf"<{tag}>([^<]*)</{tag}>", log):
            assert value == MASK, (tag, value)


def test_v_never_prints_the_session_token_key_or_signature(aws, world):
    out = run_verbose(aws, "domain", "export", "--domain", world.domain_id)
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stderr
    # Given botocore did log the requests (the test would pass on silence otherwise)
    assert "botocore.auth" in log and "DescribeDomain" in log
    assert "x-amz-security-token:" + MASK in log
    assert "'Authorization': b'" + MASK + "'" in log or "'Authorization': " + MASK in log
    assert_no_secrets(log)
    assert "Traceback" not in log


def test_v_masks_an_assumed_roles_keys(aws):
    # Given another account whose audit role the caller may assume
    ids = create_member_accounts(aws, ["a"])
    out = run_verbose(
        aws,
        "audit",
        "--accounts",
        ids["a"],
        "--assume-role-name",
        "OrganizationAccountAccessRole",
        "--no-savings",
        "--no-prices",
        "--json",
    )
    log = out.stderr
    # When the role is assumed, botocore logs STS's answer with the new keys ...
    assert "AssumeRole" in log and "<SecretAccessKey>" + MASK in log, log[-3000:]
    # ... and every request signed with them: none of it shows
    assert_no_secrets(log)
    assert "Traceback" not in log


def test_the_filter_masks_arguments_exceptions_and_stacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("smstudio_ext.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("headers %s", {"X-Amz-Security-Token": TOKEN})
        try:
            raise RuntimeError(f"failed with --password={SECRET}")
        except RuntimeError:
            logger.exception("call failed: Authorization: Bearer %s", TOKEN, stack_info=True)
        logger.warning("broken %s %s", "only one")  # a bad format string is still shown, masked
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and SECRET not in text
    assert "RuntimeError: failed with --password=***" in text and "Stack (most recent" in text
    assert "broken" in text
