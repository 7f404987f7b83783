"""The process environment that keeps tests and benchmarks off any real AWS account: fixed fake
credentials and region, and no config or credentials file, profile or endpoint of the machine."""

from __future__ import annotations

import os

OFFLINE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# whatever the machine has configured, these would reach a real account
REAL_AWS_VARS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


def go_offline() -> None:
    """Set ``OFFLINE_AWS_ENV`` in this process and drop ``REAL_AWS_VARS``."""
    for var in REAL_AWS_VARS:
        os.environ.pop(var, None)
    os.environ.update(OFFLINE_AWS_ENV)
