"""Values as people type and read them: durations (``2h30m``), byte sizes (``1.5 MiB``), booleans.

One parser or formatter per kind, shared by every door (CLI flags, REST query arguments, the
panel's numbers come from the same JSON): a duration accepted by ``smstudio idle keepalive`` is
accepted by ``smstudio image register --timeout`` too, a size printed by ``conda list`` uses the
same units as ``backup``, and ``?refresh=yes`` means the same on every route.

Pure functions, no I/O; bad text raises :class:`~smstudio_ext.errors.BadInput` with one line
that says what is accepted.
"""

from __future__ import annotations

import math
import re

from .errors import BadInput

# seconds per unit; the keys are every spelling accepted (case-insensitive)
_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
_UNIT_NAMES = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str, default_unit: str = "m") -> float:
    """Seconds in ``text``: ``2h30m``, ``1h 30min``, ``90m``, ``45s``, ``1.5h``, ``2d``; a bare
    number is in ``default_unit`` (``s``, ``m``, ``h`` or ``d``). Never negative."""
    if default_unit not in _UNIT_NAMES:
        raise ValueError(f"default_unit must be one of {', '.join(_UNIT_NAMES)}")
    raw = (text or "").strip()
    hint = (
        f"invalid duration {text!r}: use e.g. 2h30m, 90m, 45s or a number of "
        f"{_UNIT_NAMES[default_unit]}"
    )
    if not raw:
        raise BadInput(hint)
    total = 0.0
    pos = 0
    units_seen: list[str] = []
    while pos < len(raw):
        m = _PART.match(raw, pos)
        if not m or m.end() == pos:
            raise BadInput(hint)
        number, unit = m.group(1), m.group(2).lower()
        if not unit:
            if units_seen or m.end() != len(raw):  # "2h30" or "30 40": ambiguous
                raise BadInput(hint)
            unit = default_unit
        if unit not in _UNITS:
            raise BadInput(hint)
        units_seen.append(unit)
        total += float(number) * _UNITS[unit]
        pos = m.end()
    if not math.isfinite(total):
        raise BadInput(hint)
    return total


def parse_minutes(text: str) -> float:
    """Minutes in ``text`` (a bare number is minutes): ``2h`` → 120, ``90`` → 90."""
    return parse_duration(text, "m") / 60.0


def format_duration(seconds: float | None) -> str:
    """``5400`` → ``1h30m``, ``90`` → ``1m30s``, ``None`` → ``-`` (what parse_duration reads)."""
    if seconds is None:
        return "-"
    s = int(round(max(seconds, 0.0)))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (s, "s")]
    shown = [f"{v}{u}" for v, u in parts if v]
    if days or hours:  # seconds are noise next to hours
        shown = [f"{v}{u}" for v, u in parts[:3] if v]
    return "".join(shown) or "0s"


_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: float | None) -> str:
    """1024-based, with the IEC labels that say so: ``1536`` → ``1.5 KiB``; ``None`` → ``-``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _BYTE_UNITS:
        if abs(value) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(text: str | None, name: str, default: bool = False) -> bool:
    """A yes/no value (a REST query argument, a flag's value): ``1/true/yes/on`` or
    ``0/false/no/off``, any case; empty or missing is ``default``; anything else is refused."""
    if text is None or not text.strip():
        return default
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadInput(f"{name} must be true or false (1/0, yes/no), got {text!r}")
