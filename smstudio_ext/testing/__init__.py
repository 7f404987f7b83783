"""The local AWS emulator used by tests, ``smstudio demo`` and benchmarks.

moto in server mode, plus the SageMaker Studio APIs moto lacks (``studio``), the Pricing
API (``pricing``), fault injection and request counts (``faults``) and a seeded domain
(``seed``). Everything is reached over real HTTP with boto3::

    with Emulator() as emu:
        world = seed_world(emu, kind="spaces")
        emu.client("sagemaker").list_apps(DomainIdEquals=world.domain_id)
"""

from __future__ import annotations

from .emulator import ACCOUNT_ID, Emulator
from .faults import Call
from .seed import World, seed_world
from .studio import install

__all__ = ["ACCOUNT_ID", "Call", "Emulator", "World", "install", "seed_world"]
