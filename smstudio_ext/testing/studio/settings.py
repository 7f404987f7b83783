"""Process-wide knobs of the Studio store (delays, default page size)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Settings:
    """Process-wide knobs (moto's state is process-wide too). ``Emulator.reset`` restores them."""

    app_delete_delay: float = 0.5
    app_start_delay: float = 0.0
    image_version_delay: float = 0.2
    default_max_results: int = 10
    health_check_interval: float = 60.0


SETTINGS = Settings()


def reset_settings() -> None:
    fresh = Settings()
    for field in fields(fresh):
        setattr(SETTINGS, field.name, getattr(fresh, field.name))
