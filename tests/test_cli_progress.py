"""Progress of the long commands: one line redrawn on a terminal, plain throttled lines in a log,
nothing with -q; ``smstudio audit`` and ``image register`` report as they go."""

from __future__ import annotations

import argparse
import io

from smstudio_ext import clock
from smstudio_ext.cli import main
from smstudio_ext.cli.progress import Progress

URI = "111122223333.dkr.ecr.us-east-1.amazonaws.com/smstudio-jl:0.1.0"
ROLE = "arn:aws:iam::111122223333:role/SageMakerImageRole"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal_new_steps_at_once_counts_throttled(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("smstudio_ext.cli.progress.time.monotonic", lambda: now[0])
    log = io.StringIO()
    progress = Progress(argparse.Namespace(quiet=False), stream=log, interval=10)
    progress("audit d-1: reading the domain")
    progress("audit d-1: listing profiles, spaces and apps")  # a new step: shown at once
    for i in range(1, 50):  # only the numbers change: at most one line every 10 s
        now[0] += 0.5
        progress(f"audit d-1: {i}/49 profiles and spaces audited")
    lines = log.getvalue().splitlines()
    assert lines[:2] == [
        "audit d-1: reading the domain",
        "audit d-1: listing profiles, spaces and apps",
    ]
    counted = lines[2:]
    assert 2 <= len(counted) <= 4, counted  # 24.5 s of updates
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()


def test_one_line_redrawn_on_a_terminal_and_ended_at_the_end():
    term = Terminal()
    with Progress(argparse.Namespace(quiet=False), stream=term) as progress:
        progress("image x: CREATING, 0s of 600s")
        progress("image x: CREATED, 3s of 600s")
    text = term.getvalue()
    assert text.startswith("\rimage x: CREATING") and "\rimage x: CREATED" in text
    assert text.endswith("\n") and text.count("\n") == 1


def test_quiet_is_silent():
    for stream in (io.StringIO(), Terminal()):
        with Progress(argparse.Namespace(quiet=True), stream=stream) as progress:
            progress("audit d-1: reading the domain")
        assert stream.getvalue() == ""


def test_audit_reports_progress_and_q_silences_it(aws, world, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the price cache
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region, "audit"]
    audit = [*base, "--domain", world.domain_id, "--max-rps", "500", "--no-prices"]
    main([*audit, "--json"])
    err = capsys.readouterr().err  # not a terminal here: plain lines
    d = world.domain_id
    total = len(world.profiles) + len(world.spaces)
    assert f"audit {d}: reading the domain\n" in err
    assert f"audit {d}: listing profiles, spaces and apps\n" in err
    assert f"audit {d}: 0/{total} profiles and spaces audited\n" in err
    main([*audit, "--json", "-q"])
    assert "audit" not in capsys.readouterr().err


def test_image_register_reports_each_status_while_it_waits(aws, world, capsys):
    aws.set_image_version_delay(0.6)  # the version is CREATING for a moment
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region, "image", "register"]
    args = ["--kind", "jupyterlab", "--domain", world.domain_id, "--image-uri", URI,
            "--name", "smstudio-jl", "--role-arn", ROLE, "--timeout", "2m"]  # fmt: skip
    started = clock.monotonic()
    assert main([*base, *args]) == 0
    assert clock.monotonic() - started < 60
    err = capsys.readouterr().err
    assert "image smstudio-jl: CREATED" in err
    assert "image version of smstudio-jl: CREATING" in err
    assert "image version of smstudio-jl: CREATED" in err
    assert "of 120s" in err  # the --timeout, written 2m
