"""Helpers shared by the idle tests (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

HOURS = 3600

# IdleShutdown settings every idle test starts from
BASE = {
    "timeout_minutes": 60,
    "min_timeout_minutes": 15,
    "grace_minutes": 0,
    "warning_minutes": 10,
    "check_interval_seconds": 3600,  # the tests drive check() themselves
    "watch_user_processes": False,  # the machine is shared: other people's CPU is not ours
    "delete_backoff_seconds": 0.01,
}


def with_config(**section):
    """Run a test with these IdleShutdown settings on top of the shared ones."""
    return pytest.mark.parametrize("extra_server_config", [section], indirect=True)


async def wait_for(predicate, timeout=20.0, step=0.05):
    """Poll ``predicate`` on the event loop until it is true (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


def only(result):
    """The one decision of a check (a space's app, or local)."""
    (d,) = result.decisions
    return d


def app_status(aws, world, app):
    return aws.client("sagemaker").describe_app(**world.app_key(app))["Status"]


def deletes(aws):
    return aws.count("sagemaker", "DeleteApp")
