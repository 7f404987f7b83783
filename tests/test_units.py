"""Durations, byte sizes and booleans: one parser or formatter each, the same for every door."""

from __future__ import annotations

import argparse

import pytest

from smstudio_ext.cli.common import duration_arg
from smstudio_ext.errors import BadInput
from smstudio_ext.units import (
    format_bytes,
    format_duration,
    parse_bool,
    parse_duration,
    parse_minutes,
)


@pytest.mark.parametrize(
    "text, unit, seconds",
    [
        ("2h30m", "m", 9000),
        ("2h 30m", "m", 9000),
        ("1h30min", "m", 5400),
        ("90m", "m", 5400),
        ("90", "m", 5400),
        ("90", "s", 90),
        ("45s", "m", 45),
        ("1.5h", "m", 5400),
        ("2d", "h", 172800),
        ("1w", "d", 604800),
        ("0", "m", 0),
        ("3 hours", "m", 10800),
        ("1H30M", "m", 5400),
    ],
)
def test_durations_people_write(text, unit, seconds):
    assert parse_duration(text, unit) == seconds


@pytest.mark.parametrize("text", ["", " ", "abc", "-5", "2h30", "30 40", "5x", "h", "1e9h", "nan"])
def test_bad_durations_are_one_line_that_says_what_works(text):
    with pytest.raises(BadInput) as exc:
        parse_duration(text)
    assert "2h30m" in exc.value.message and "\n" not in exc.value.message


def test_minutes_and_round_trip():
    assert parse_minutes("2h30m") == 150
    assert format_duration(9000) == "2h30m"
    assert parse_duration(format_duration(9000)) == 9000
    assert format_duration(90) == "1m30s"
    assert format_duration(0) == "0s"
    assert format_duration(None) == "-"
    assert format_duration(90061) == "1d1h1m"  # seconds are noise next to days


def test_duration_flag_converts_to_its_unit_and_refuses_fractions_where_whole():
    minutes = duration_arg("m", "m", integer=True)
    assert minutes("1h30m") == 90 and minutes("45") == 45
    with pytest.raises(argparse.ArgumentTypeError, match="whole number of minutes"):
        minutes("90s")
    hours = duration_arg("h", "h")
    assert hours("7h30m") == 7.5 and hours("8") == 8
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        hours("soon")


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3 + 1024**3 // 2, "3.5 GiB"),
        (2 * 1024**4, "2.0 TiB"),
        (None, "-"),
    ],
)
def test_byte_sizes_are_1024_based_and_say_so(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "yes", "on", " True "])
def test_true(text):
    assert parse_bool(text, "refresh") is True


@pytest.mark.parametrize("text", ["0", "false", "No", "off"])
def test_false(text):
    assert parse_bool(text, "refresh", default=True) is False


def test_missing_or_empty_is_the_default_and_junk_is_refused():
    assert parse_bool(None, "sizes", default=True) is True
    assert parse_bool("", "sizes") is False
    with pytest.raises(BadInput, match="sizes must be true or false"):
        parse_bool("maybe", "sizes")
