"""smstudio_ext.redact: secrets never reach a shown command line (issue 16, "Command lines leak
secrets"). Pure functions; the end-to-end test with a real process is in test_idle_work.py."""

from __future__ import annotations

import pytest

from smstudio_ext.redact import MASK, format_command, redact_argv, redact_text

SECRET = "hunter2"


@pytest.mark.parametrize(
    "argv, kept",
    [
        (["python", "load.py", "--db-password=hunter2"], "--db-password=***"),
        (["python", "load.py", "--db-password", "hunter2"], "--db-password ***"),
        (["app", "--api-key", "hunter2", "--verbose"], "--api-key *** --verbose"),
        (["app", "--token=hunter2,more"], "--token=***"),
        (["app", "--client-secret='hunter2'"], "--client-secret='***'"),
        (["java", "-Djavax.net.ssl.keyStorePassword=hunter2", "Main"], "keyStorePassword=***"),
        (["env", "PGPASSWORD=hunter2", "psql"], "PGPASSWORD=***"),
        (["env", "AWS_SECRET_ACCESS_KEY=hunter2", "aws"], "AWS_SECRET_ACCESS_KEY=***"),
        (["git", "clone", "https://alice:hunter2@git.example.com/r.git"], "alice:***@"),
        (["git", "clone", "https://hunter2@github.com/o/r.git"], "https://***@github.com"),
        (["curl", "https://b.s3.amazonaws.com/k?X-Amz-Signature=hunter2&a=1"], "Signature=***&a=1"),
        (["curl", "-H", "Authorization: Bearer hunter2", "https://x"], "Authorization: ***"),
        (["sh", "-c", "sleep 900 && python train.py --password hunter2"], "--password ***"),
        (["psql", "postgresql://bob:hunter2@db:5432/x"], "bob:***@db"),
    ],
)
def test_secret_values_are_masked(argv, kept):
    out = redact_argv(argv)
    text = " ".join(out)
    assert SECRET not in text, text
    assert kept in text, text
    assert out[0] == argv[0]  # the program is kept


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "train.py", "--epochs", "10", "--lr=0.1"],
        ["sleep", "900"],
        ["ssh", "git@github.com"],
        ["tail", "-f", "/var/log/app.log"],
        ["env", "PATH=/usr/bin", "HOME=/home/sagemaker-user", "python"],
    ],
)
def test_ordinary_arguments_are_kept(argv):
    assert redact_argv(argv) == argv


def test_a_flag_after_a_secret_option_is_not_taken_as_its_value():
    assert redact_argv(["app", "--token", "--verbose"]) == ["app", "--token", "--verbose"]


def test_redact_text_for_logs():
    line = (
        "headers={'X-Amz-Security-Token': b'hunter2', 'Authorization': b'AWS4-HMAC-SHA256 "
        "Credential=AKIA/..., Signature=hunter2', 'User-Agent': 'Boto3'}"
    )
    out = redact_text(line)
    assert SECRET not in out and "'User-Agent': 'Boto3'" in out and MASK in out
    assert redact_text('{"password": "hunter2", "user": "bob"}') == (
        '{"password": "***", "user": "bob"}'
    )
    assert redact_text("") == ""


def test_format_command_shows_program_name_and_cuts_after_redaction():
    argv = ["/opt/conda/bin/python", "load.py", "--db-password=" + "x" * 200]
    text = format_command(argv, limit=40)
    assert text.startswith("python load.py --db-password=***")
    assert "x" not in text
    long = format_command(["/usr/bin/python", "a" * 100], limit=20)
    assert len(long) == 20 and long.endswith("…")
    assert format_command([]) == ""


def test_printable_escapes_control_characters():
    from smstudio_ext.redact import printable

    assert printable("a\nb\x1b[2J\tc\x7f") == "a\\nb\\x1b[2J\\tc\\x7f"
    assert printable("plain é") == "plain é"
