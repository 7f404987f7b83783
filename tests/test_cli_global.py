"""The CLI's habits, as aws and restic have them: global options anywhere on the line, --json and
-q on every command, exit codes and examples in the help, the admin commands apart, and bad
input as one line (never a traceback)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest
from cli_support import LEAVES

from smstudio_ext.cli import GROUPS, build_parser, main
from smstudio_ext.errors import EXIT_CODES, SmStudioError


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("smstudio: error: "), err
    return lines[0]


# --- global options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "plan-subnet", "--subnets", "2", "--users", "10", "--instances-per-user", "2"],
        ["plan-subnet", "--json", "--subnets", "2", "--users", "10", "--instances-per-user", "2"],
        ["plan-subnet", "--subnets", "2", "--users", "10", "--instances-per-user", "2", "--json"],
    ],
)
def test_json_anywhere_on_the_line(argv, capsys):
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["users"] == 10


def test_every_global_option_parses_before_and_after_the_command():
    words = ["config", "show"]
    flags = [
        "--json",
        "-q",
        "-v",
        "--profile",
        "dev",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        "http://127.0.0.1:5000",
    ]
    before = build_parser("config").parse_args([*flags, *words])
    after = build_parser("config").parse_args([*words, *flags])
    between = build_parser("config").parse_args(["config", *flags, "show"])
    for args in (before, after, between):
        assert (args.json, args.quiet, args.verbose) == (True, True, True)
        assert (args.profile, args.region) == ("dev", "eu-west-1")
        assert args.endpoint_url == "http://127.0.0.1:5000"
    # not given: the defaults, also on a subcommand's own parser
    args = build_parser("config").parse_args(words)
    assert (args.json, args.quiet, args.verbose, args.profile) == (False, False, False, None)


def test_a_subcommands_own_quiet_flag_does_not_reset_a_global_one():
    # backup defines its own -q: `smstudio -q backup` must stay quiet
    assert build_parser("backup").parse_args(["-q", "backup"]).quiet is True
    assert build_parser("backup").parse_args(["backup", "-q"]).quiet is True
    assert build_parser("backup").parse_args(["backup"]).quiet is False


def test_profile_is_the_aws_profile_and_lcc_takes_user_profile():
    args = build_parser("lcc").parse_args(
        ["lcc", "detach", "--domain", "d-1", "--app-type", "JupyterLab", "--name", "x"]
        + ["--user-profile", "alice", "--profile", "admin"]
    )
    assert (args.user_profile, args.profile) == ("alice", "admin")


def test_an_unknown_aws_profile_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code = main(["--profile", "nosuch", "domain", "export", "--domain", "d-abc"])
    assert code == 6
    assert "nosuch" in one_line_error(capsys.readouterr().err)


# --- help: groups, exit codes, examples -------------------------------------------------------


def test_top_help_groups_admin_commands_and_lists_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    user_title, admin_title = GROUPS[0][0], GROUPS[1][0]
    user, admin = out.index(user_title + ":"), out.index(admin_title + ":")
    assert user < admin
    for name in GROUPS[1][1]:  # every admin command under its heading, after the user's
        assert out.index(f"\n  {name} ", admin) > admin
    for name in GROUPS[0][1]:
        assert user < out.index(f"\n  {name} ", user) < admin
    assert "exit codes:" in out
    for code, meaning in EXIT_CODES.items():
        assert f"{code:>3}  {meaning}" in out
    assert "global options (anywhere on the line)" in out


def test_every_command_is_in_a_group():
    grouped = {n for _, names in GROUPS for n in names}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert grouped == set(sub.choices)


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    text = parser.format_help()
    assert "examples:\n" in text, parser.prog
    return [e for e in text.split("examples:\n", 1)[1].splitlines() if e.strip()]


@pytest.mark.parametrize("words, parser", LEAVES, ids=[w for w, _ in LEAVES])
def test_every_command_has_examples_json_and_quiet(words, parser):
    examples = _examples(parser)
    assert examples and all(e.startswith("  smstudio ") for e in examples), examples
    options = parser._option_string_actions
    for flag in ("--json", "-q", "-v", "--profile", "--region", "--endpoint-url"):
        assert flag in options, (words, flag)


@pytest.mark.parametrize("words, parser", LEAVES, ids=[w for w, _ in LEAVES])
def test_every_example_is_a_command_line_of_that_command(words, parser):
    import shlex

    from smstudio_ext.cli import command_of

    for line in _examples(parser):
        line = line.split("  #", 1)[0].split(" > ", 1)[0].strip()
        if "..." in line:
            continue
        argv = shlex.split(line)[1:]
        parsed = build_parser(command_of(argv)).parse_args(argv)
        assert parsed.func is parser.get_default("func"), line


# --- -q and --json behave ---------------------------------------------------------------------


def test_quiet_silences_summaries_not_data(tmp_path, capsys):
    from smstudio_ext.testing.condaenv import make_env

    envs = tmp_path / "envs"
    make_env(str(envs), "ds")
    assert main(["conda", "--envs-dir", str(envs), "rm", "ds", "-q"]) == 0
    assert capsys.readouterr().out == ""
    make_env(str(envs), "ds")
    assert main(["-q", "conda", "--envs-dir", str(envs), "list", "--no-size"]) == 0
    assert "ds" in capsys.readouterr().out  # the listing is the data asked for
    assert main(["conda", "--envs-dir", str(envs), "rm", "ds", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == "ds"


def test_lcc_render_json_and_out(tmp_path, capsys):
    out = tmp_path / "lcc.sh"
    base = ["lcc", "render", "--app-type", "JupyterLab", "--wheelhouse", "s3://corp-wheels/x"]
    assert main([*base, "--out", str(out), "--json", "--no-shellcheck"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["script"] == out.read_text() and doc["out"] == str(out)
    assert "characters" in doc["summary"]
    assert main([*base, "-q", "--no-shellcheck"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("#!/") and captured.err == ""


# --- bad input: one line, never a traceback ---------------------------------------------------


@pytest.mark.parametrize(
    "url", ["not a url", "http://", "ftp://host", "http://host:99999", "127.0.0.1:5000", ""]
)
def test_an_invalid_endpoint_url_is_one_line(url, capsys):
    code = main(["--endpoint-url", url, "domain", "export", "--domain", "d-abc"])
    assert code == 2
    assert "invalid --endpoint-url" in one_line_error(capsys.readouterr().err)


def test_an_invalid_endpoint_in_the_config_file_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"Aws": {"endpoint_urls": {"sagemaker": "nope"}}}))
    code = main(["--config", str(cfg), "domain", "export", "--domain", "d-abc"])
    assert code == 2
    assert "Aws.endpoint_urls" in one_line_error(capsys.readouterr().err)


def test_config_etc_passwd_is_refused(capsys):
    assert main(["--config", "/etc/passwd", "config", "show"]) == 2
    assert "not a Jupyter config file" in one_line_error(capsys.readouterr().err)
    # the lifecycle settings file (lcc's own --config) too
    assert main(["lcc", "render", "--app-type", "JupyterLab", "--config", "/etc/passwd"]) == 2
    one_line_error(capsys.readouterr().err)


def test_config_files_that_are_not_config(tmp_path, capsys):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # reading it would block forever
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20))
    broken = tmp_path / "broken.py"
    broken.write_text("c.Aws.max_attempts = (\n")
    notobj = tmp_path / "list.json"
    notobj.write_text("[1, 2]")
    for path, why in [
        (fifo, "not a regular file"),
        (bad, "not valid JSON"),
        (big, "too big"),
        (broken, "SyntaxError"),
        (tmp_path / "missing.json", "config file not found"),
        (notobj, "--config"),
    ]:
        assert main(["--config", str(path), "config", "show"]) == 2, path
        assert why in one_line_error(capsys.readouterr().err), path


@pytest.mark.parametrize(
    "argv",
    [
        ["lcc", "render", "--app-type", "JupyterLab", "--wheelhouse", "s3://cw/x", "--out"],
        ["image", "dockerfile", "--kind", "jupyterlab", "--pip-spec", "x", "--out-dir"],
        ["policies", "render", "--no-lint", "--out"],
        ["wheelhouse", "build", "--python", "3.11", "--out"],
    ],
    ids=["lcc-render", "image-dockerfile", "policies-render", "wheelhouse-build"],
)
@pytest.mark.parametrize("where", ["/proc/nope/x", "/proc/self/status", "/proc/self"])
def test_output_paths_that_cannot_be_written_are_one_line(argv, where, capsys):
    code = main([*argv, where, "--no-shellcheck"] if argv[0] == "lcc" else [*argv, where])
    assert code == 2
    one_line_error(capsys.readouterr().err)


def test_domain_outputs_that_cannot_be_written_are_one_line(aws, world, capsys):
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    for where in ("/proc/nope/m.json", "/proc/self/status"):
        code = main([*base, "domain", "export", "--domain", world.domain_id, "--out", where])
        assert code == 2
        assert where in one_line_error(capsys.readouterr().err)


def test_an_unexpected_error_is_one_line_and_v_shows_the_traceback(monkeypatch, capsys):
    from smstudio_ext.cli import subnet

    def boom(**_kw):
        raise RuntimeError("it broke")

    monkeypatch.setattr(subnet, "plan_subnets", boom)
    argv = ["plan-subnet", "--subnets", "2", "--users", "1", "--instances-per-user", "1"]
    assert main(argv) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "unexpected RuntimeError: it broke (run with -v" in line
    assert main([*argv, "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_the_installed_command_exits_with_the_documented_codes(tmp_path):
    # the real entry point, in its own process: a usage error, bad input, and success
    def run(*argv):
        return subprocess.run(
            [sys.executable, "-m", "smstudio_ext", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path)},
        )

    assert run("nosuchcommand").returncode == 2
    bad = run("--endpoint-url", "nope", "context")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert run("--json", "context").returncode == 0


def test_exit_codes_of_every_error_class_are_in_the_table():
    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    import smstudio_ext.backup.restore  # engines define their own classes
    import smstudio_ext.conda.tools  # noqa: F401

    for cls in [SmStudioError, *walk(SmStudioError)]:
        assert cls.exit_code in EXIT_CODES, cls
