"""pytest fixtures for the emulator.

Load with ``pytest_plugins = ["smstudio_ext.testing.fixtures"]``.

* ``emulator``: one started ``Emulator`` per test process (session scope; xdist-safe).
* ``aws``: the same emulator, reset before the test (fresh state, faults, counts, delays).
* ``world``: ``seed_world(aws, kind="both")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import Emulator
from .seed import World, seed_world


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    emu = Emulator(region="us-east-1")
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def aws(emulator: Emulator) -> Emulator:
    emulator.reset()
    return emulator


@pytest.fixture
def world(aws: Emulator) -> World:
    return seed_world(aws, kind="both")
