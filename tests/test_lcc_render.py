"""Rendering lifecycle scripts: every app type x feature set, the hard limits, injection refused."""

from __future__ import annotations

import json
import re

import pytest

from smstudio_ext.admin import lcc
from smstudio_ext.admin.lcc import APP_TYPES, FEATURES, LccSettings, render
from smstudio_ext.admin.templates import read_template, template_roots
from smstudio_ext.cli import main
from smstudio_ext.errors import BadInput, SmStudioError

WHEEL = "s3://corp-wheels/smstudio/smstudio_ext-0.1.0-py3-none-any.whl"

# Values each feature needs, so that a feature set can be rendered on its own.
FEATURE_VALUES = {
    "idle": {"idle_timeout": 60, "idle_max_timeout": 240},
    "backup": {
        "backup_bucket": "s3://corp-backups/homes",
        "kms_key": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "backup_interval_hours": 6,
    },
    "restore": {"backup_bucket": "s3://corp-backups/homes", "restore": True},
    "conda": {"conda_envs_dir": "~/.conda/envs"},
    "insights": {"user_id_tag_key": "studiouserid"},
    "git": {
        "git_user_name": "Jane Doe",
        "git_email_tag": "email",
        "git_repos": ["https://github.com/corp/ml-examples.git", "git@github.com:corp/tools"],
    },
    "extensions": {"extensions": ["jupyterlab-git==0.50.1", "jupyter-resource-usage==1.1.0"]},
    "proxy": {
        "https_proxy": "http://proxy.corp.internal:3128",
        "no_proxy": "localhost,127.0.0.1,.internal",
        "pip_index_url": "https://pypi.corp.internal/simple",
        "pip_trusted_host": "pypi.corp.internal",
    },
}
FEATURE_SETS = [[], *([f] for f in FEATURES), list(FEATURES)]


def settings_for(app_type: str, features: list[str], **extra) -> LccSettings:
    values: dict = {"app_type": app_type, "features": list(features), "wheel": WHEEL}
    for f in features:
        values.update(FEATURE_VALUES[f])
    values.update(extra)
    return LccSettings(**values)


@pytest.mark.parametrize("app_type", APP_TYPES)
@pytest.mark.parametrize("features", FEATURE_SETS, ids=lambda f: "+".join(f) or "minimal")
def test_every_variant_meets_the_hard_limits(app_type, features):
    r = render(settings_for(app_type, features))

    assert r.script.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in r.script
    assert "\r" not in r.script
    assert r.size <= lcc.MAX_BASE64_CHARS and r.headroom == lcc.MAX_BASE64_CHARS - r.size
    assert lcc.shellcheck(r.script) == []
    # the steps run are exactly the features asked for (KernelGateway: kernel-side ones)
    runs = re.findall(r"^run (\w+)$", r.script, re.M)
    expected = {"install"}
    if app_type != "KernelGateway":
        expected.add("config")
        expected |= {f for f in features if f == "restore"}
    expected |= {f for f in features if f in ("conda", "git")}
    if "extensions" in features:  # two pip runs of 150 s + the S3 fetch: over the budget
        expected.add("extensions_bg")
    if "proxy" in features:
        expected.add("pip_conf")
    if app_type == "JupyterServer":
        expected.add("restart")
    if app_type == "JupyterLab":  # SMD's server runs already: load what was installed
        expected.add("server")
    assert set(runs) == expected
    assert r.script.rstrip().endswith("finish")


def test_kernelgateway_leaves_server_features_out_and_says_so():
    r = render(settings_for("KernelGateway", list(FEATURES)))
    assert r.features == ["conda", "git", "extensions", "proxy"]
    assert "left out: idle, backup, restore, insights" in r.notes[0]
    assert "EXT_CONFIG=" not in r.script and "restart-jupyter-server" not in r.script


def test_python_per_app_type():
    assert (
        "PYTHONS=(/opt/conda/envs/studio/bin/python"
        in render(settings_for("JupyterServer", [])).script
    )
    assert "PYTHONS=(/opt/conda/bin/python)" in render(settings_for("JupyterLab", [])).script
    r = render(settings_for("JupyterLab", [], python="/usr/local/bin/python3.11"))
    assert "PYTHONS=(/usr/local/bin/python3.11)" in r.script


def test_server_config_carries_the_admins_choices_under_the_engines_trait_names():
    r = render(settings_for("JupyterLab", ["idle", "backup", "conda", "insights"]))
    line = next(x for x in r.script.splitlines() if x.startswith("EXT_CONFIG="))
    cfg = json.loads(line[len("EXT_CONFIG=") :].strip("'"))
    assert cfg == {
        "IdleShutdown": {"timeout_minutes": 60, "max_timeout_minutes": 240},
        "HomeBackup": {
            "bucket": "s3://corp-backups/homes",
            "kms_key_id": FEATURE_VALUES["backup"]["kms_key"],
            "interval_hours": 6,
        },
        "CondaEnvs": {"envs_dir": "~/.conda/envs"},
        "Insights": {"user_id_tag_key": "studiouserid"},
    }


def test_values_with_shell_meaningful_but_legal_characters_are_single_quoted():
    r = render(settings_for("JupyterLab", [], wheel=None, pip_spec="smstudio-ext>=0.1,<1"))
    assert "PIP_SPEC='smstudio-ext>=0.1,<1'" in r.script
    assert lcc.shellcheck(r.script) == []


def test_without_a_wheel_or_wheelhouse_the_render_refuses_and_says_how_to_make_one():
    # never `pip install smstudio-ext==X` from a public index by name (a stranger could
    # publish that name there)
    with pytest.raises(BadInput) as err:
        render(LccSettings(app_type="JupyterLab"))
    msg = str(err.value)
    assert "smstudio wheelhouse build --python 3.11 --out DIR" in msg
    assert "smstudio wheelhouse push DIR s3://" in msg and "--wheel s3://" in msg
    assert "--pip-spec" in msg  # the explicit opt-in for a private index


def test_a_wheelhouse_prefix_is_normalised_and_fetched_in_the_script():
    r = render(LccSettings(app_type="JupyterLab", wheelhouse="corp-wheels/smstudio/0.1.0/"))
    assert "WHEELHOUSE_URI=s3://corp-wheels/smstudio/0.1.0" in r.script
    assert any("read as s3://corp-wheels/smstudio/0.1.0" in n for n in r.notes)
    assert "fetch-wheelhouse" in r.script and lcc.shellcheck(r.script) == []
    with pytest.raises(BadInput, match="give one of"):
        render(LccSettings(app_type="JupyterLab", wheelhouse="s3://corp-wheels/x", wheel=WHEEL))
    with pytest.raises(BadInput, match="invalid wheelhouse"):
        render(LccSettings(app_type="JupyterLab", wheelhouse="s3://Corp_Wheels/x"))


def test_features_are_implied_by_the_values_given():
    r = render(
        LccSettings(
            app_type="JupyterLab",
            idle_timeout=30,
            backup_bucket="s3://corp-backups",
            wheelhouse="s3://corp-wheels/smstudio",
        )
    )
    assert r.features == ["idle", "backup", "conda"]


INJECTIONS = ["$(id)", "`id`", "x; rm -rf ~", "a'b", 'a"b', "a\nb", "a b", "${HOME}", "a|b", "a&&b"]
FIELDS = {
    "backup_bucket": ("backup", "s3://corp-backups/{}"),
    "kms_key": ("backup", "alias/{}"),
    "user_id_tag_key": ("insights", "{}"),
    "conda_envs_dir": ("conda", "/home/sagemaker-user/{}"),
    "wheel": (None, "s3://corp-wheels/{}.whl"),
    "pip_spec": (None, "smstudio-ext{}"),
    "python": (None, "/opt/conda/bin/{}"),
    "git_user_name": ("git", "Jane{}"),
    "git_user_email": ("git", "jane{}@example.com"),
    "git_name_tag": ("git", "{}"),
    "git_repos": ("git", "https://github.com/corp/{}"),
    "extensions": ("extensions", "pkg=={}"),
    "https_proxy": ("proxy", "http://proxy{}:3128"),
    "no_proxy": ("proxy", "localhost,{}"),
    "pip_index_url": ("proxy", "https://pypi.corp/{}"),
    "pip_trusted_host": ("proxy", "pypi{}"),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("payload", INJECTIONS, ids=repr)
def test_injection_attempts_are_refused_naming_the_value_and_rule(field, payload):
    feature, template = FIELDS[field]
    if field == "git_user_name" and payload == "a b":  # legal in a name: quoted instead
        r = render(settings_for("JupyterLab", ["git"], git_user_name="Janea b"))
        assert "GIT_NAME='Janea b'" in r.script
        return
    value = template.format(payload)
    extra: dict = {field: [value] if field in ("git_repos", "extensions") else value}
    if field == "pip_spec":
        extra["wheel"] = None
    features = [feature] if feature else []
    with pytest.raises(BadInput) as err:
        render(settings_for("JupyterLab", features, **extra))
    msg = str(err.value)
    assert repr(value) in msg, msg  # names the value (repr: a newline shows as \n)
    assert "invalid" in msg and ":" in msg


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"features": ["backup"]}, "need --backup-bucket"),
        ({"features": ["idle"]}, "needs --idle-timeout"),
        ({"features": ["insights"]}, "needs --user-id-tag-key"),
        ({"features": ["extensions"]}, "needs --extension"),
        ({"features": ["telepathy"]}, "features are idle"),
        ({"app_type": "RStudio"}, "invalid app type"),
        ({"idle_timeout": 0}, "from 1 to 525600"),
        ({"idle_timeout": 90, "idle_max_timeout": 60}, "above the max timeout"),
        ({"pip_spec": "smstudio-ext"}, "give one of --wheel"),
        ({"kms_key": "alias/aws/s3"}, "not an AWS-managed"),
        ({"user_id_tag_key": "aws:userid"}, "reserved"),
        ({"extensions": ["jupyterlab-git>=0.50"]}, "pinned requirement"),
        ({"wheel": "s3://corp-wheels/dist/notawheel.tar.gz"}, "must name a wheel file"),
        ({"git_repos": ["file:///etc"]}, "expected https://"),
        ({"git_repos": ["--upload-pack=touch"]}, "expected https://"),
        ({"https_proxy": "http://user:secret@proxy:3128"}, "without user:password"),
        ({"pip_timeout": 600}, "from 10 to 150"),
    ],
)
def test_bad_settings_are_refused_clearly(extra, message):
    base = {"app_type": "JupyterLab", "wheel": WHEEL}
    with pytest.raises(BadInput, match=re.escape(message)):
        render(LccSettings(**{**base, **extra}))


def test_a_script_over_the_size_limit_is_refused_with_size_and_headroom():
    repos = [f"https://github.com/corp/project-number-{i:04d}-with-a-long-name" for i in range(120)]
    with pytest.raises(SmStudioError, match=r"base64 content is \d+ characters, over the 16384"):
        render(settings_for("JupyterLab", ["git"], git_repos=repos))


def test_check_script_refuses_crlf_missing_shebang_and_errexit():
    ok = render(settings_for("JupyterLab", []))
    for broken, why in (
        (ok.script.replace("\n", "\r\n"), "CR characters"),
        (ok.script.replace("#!/usr/bin/env bash\n", "#!/bin/sh\n", 1), "first line"),
        (ok.script.replace("set -euo pipefail\n", "set -e\n"), "set -euo pipefail"),
    ):
        r = lcc.RenderedLcc(script=broken, app_type="JupyterLab", features=[], notes=[])
        with pytest.raises(SmStudioError, match=why):
            lcc.check_script(r)


def test_settings_file_json_and_yaml(tmp_path):
    data = {"app-type": "KernelGateway", "features": "conda,git", "git_user_name": "Jane Doe"}
    (tmp_path / "s.json").write_text(json.dumps(data))
    (tmp_path / "s.yaml").write_text(
        "app_type: KernelGateway\nfeatures: [conda, git]\ngit_user_name: Jane Doe\n"
    )
    for name in ("s.json", "s.yaml"):
        s = lcc.load_settings_file(str(tmp_path / name)).merged({"wheel": WHEEL, "strict": True})
        r = render(s)
        assert r.features == ["conda", "git"] and "STRICT=1" in r.script


def test_settings_file_errors(tmp_path):
    with pytest.raises(BadInput, match="not found"):
        lcc.load_settings_file(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(BadInput, match="not valid json"):
        lcc.load_settings_file(str(tmp_path / "bad.json"))
    (tmp_path / "unknown.json").write_text('{"idle_timout": 5}')
    with pytest.raises(BadInput, match="unknown lifecycle setting.*idle_timout"):
        lcc.load_settings_file(str(tmp_path / "unknown.json"))


def test_rendering_is_deterministic():
    a = render(settings_for("JupyterServer", list(FEATURES)))
    b = render(settings_for("JupyterServer", list(FEATURES)))
    assert a.script == b.script and a.digest == b.digest


def test_templates_found_in_the_source_checkout():
    roots = template_roots()
    assert roots[0].name == "_templates" and roots[0].parent.name == "smstudio_ext"
    assert read_template("lifecycle/header.sh").startswith("#!/usr/bin/env bash\n")
    for frag in ("install", "config", "conda", "restore", "git", "extensions", "proxy", "restart"):
        text = read_template(f"lifecycle/steps/{frag}.sh")
        assert "@@" not in text and "\r" not in text


def test_cli_render_merges_the_settings_file_and_flags(tmp_path, capsys):
    from smstudio_ext.cli import main

    settings = tmp_path / "lcc.yaml"
    settings.write_text(
        f"features: [idle, git]\nidle_timeout: 45\ngit_user_name: Jane Doe\nwheel: {WHEEL}\n"
    )
    assert main(["lcc", "render", "--app-type", "JupyterServer", "--config", str(settings),
                 "--idle-timeout", "15"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert '"timeout_minutes": 15' in captured.out and "GIT_NAME='Jane Doe'" in captured.out
    assert "JupyterServer lifecycle script" in captured.err and "headroom" in captured.err
    assert main(["lcc", "render", "--app-type", "JupyterLab", "--features", "idle"]) == 2
    assert "feature idle needs --idle-timeout" in capsys.readouterr().err
    assert main(["lcc"]) == 2


def test_the_audit_recognises_our_scripts_and_their_version():
    from smstudio_ext import __version__
    from smstudio_ext.admin import audit

    r = render(settings_for("KernelGateway", ["conda"]))
    marker = next(x for x in r.script.splitlines() if x.startswith(audit.DEFAULT_LCC_MARKER))
    assert r.script.splitlines()[1] == marker
    assert audit._VERSION_IN_MARKER.search(marker).group(1) == __version__


def _function(script: str, name: str) -> str:
    """The body of shell function ``name`` in a rendered script."""
    m = re.search(rf"^{name}\(\) {{(.*?)^}}", script, re.M | re.S)
    if m is None:  # one-line function
        m = re.search(rf"^{name}\(\) {{(.*)}}$", script, re.M)
    assert m, f"no function {name}"
    return m.group(1)


# --- the foreground part is bounded well inside Studio's 5 minutes --------------------------------
def test_foreground_network_work_is_bounded_within_five_minutes():
    # Given the slowest pip timeout and extensions, git identity from tags, a wheel from S3
    r = render(
        LccSettings(
            app_type="JupyterLab",
            pip_timeout=lcc.MAX_PIP_TIMEOUT,
            extensions=["jupyterlab-git==0.50.0"],
            features=["extensions", "git"],
            git_name_tag="name",
            wheel=WHEEL,
        )
    )
    # Then at most one foreground pip run and the worst case stays within the budget
    fg_pips = len(re.findall(r"^run (install|extensions)$", r.script, re.M))
    assert fg_pips == 1 and re.search(r"^run extensions_bg$", r.script, re.M)
    assert lcc.foreground_budget(r) <= lcc.FOREGROUND_BUDGET
    assert any("background" in n for n in r.notes)
    # and every foreground network call is bounded by `timeout`
    fetch = _function(r.script, "fetch")
    assert fetch.count('bounded "${3:-60}" ') == 2 and "connect_timeout=" in fetch
    assert "--cli-connect-timeout" in fetch and "--cli-read-timeout" in fetch
    tags = _function(r.script, "profile_tags")
    assert "bounded 30" in tags and "lcc_runtime profile-tags" in tags
    # the lookup itself (smstudio_ext.lcc_runtime.profile_tags) uses short boto3 timeouts
    import inspect

    from smstudio_ext import lcc_runtime

    code = inspect.getsource(lcc_runtime.profile_tags)
    assert "connect_timeout=" in code and "max_attempts" in code


def test_extensions_stay_in_the_foreground_when_the_budget_allows():
    r = render(
        LccSettings(
            app_type="JupyterLab",
            pip_timeout=60,
            extensions=["jupyterlab-git==0.50.0"],
            wheel=WHEEL,
        )
    )
    assert re.search(r"^run extensions$", r.script, re.M)
    assert lcc.foreground_budget(r) <= lcc.FOREGROUND_BUDGET


def test_a_pip_timeout_over_the_budget_is_refused():
    with pytest.raises(BadInput, match="pip timeout"):
        render(LccSettings(app_type="JupyterLab", pip_timeout=280, wheel=WHEEL))


@pytest.mark.parametrize("app_type", lcc.APP_TYPES)
@pytest.mark.parametrize("features", FEATURE_SETS, ids=lambda f: "+".join(f) or "minimal")
def test_every_variant_fits_the_foreground_budget(app_type, features):
    r = render(settings_for(app_type, features, pip_timeout=lcc.MAX_PIP_TIMEOUT))
    assert lcc.foreground_budget(r) <= lcc.FOREGROUND_BUDGET < 300


# --- a wheel URI without s3:// is normalised ------------------------------------------------------
def test_wheel_without_s3_scheme_is_normalised():
    r = render(
        LccSettings(app_type="JupyterLab", wheel="mybucket/w/smstudio_ext-0.1.0-py3-none-any.whl")
    )
    uri = re.search(r"^WHEEL_URI=(.*)$", r.script, re.M).group(1)
    assert uri.strip("'") == "s3://mybucket/w/smstudio_ext-0.1.0-py3-none-any.whl"


# --- the git clones wait for the restore ----------------------------------------------------------
def test_git_clone_waits_for_the_restore_in_the_script():
    r = render(
        settings_for("JupyterLab", ["restore", "git"]),
    )
    clone = _function(r.script, "job_git_clone")
    assert "after restore" in clone
    job = _function(r.script, "job_restore")
    assert "restore --help" in job


# --- settings for a feature not selected are refused ----------------------------------------------
@pytest.mark.parametrize(
    "setting, value, feature",
    [
        ("pip_index_url", "https://mirror.corp/simple", "proxy"),
        ("no_proxy", "localhost", "proxy"),
        ("pip_trusted_host", "mirror.corp", "proxy"),
        ("idle_timeout", 60, "idle"),
        ("kms_key", "alias/studio", "backup"),
        ("backup_interval_hours", 6, "backup"),
        ("restore", True, "restore"),
        ("conda_envs_dir", "~/.conda/envs", "conda"),
        ("user_id_tag_key", "studiouserid", "insights"),
        ("git_user_email", "a@example.com", "git"),
        ("git_repos", ["https://github.com/corp/x.git"], "git"),
        ("extensions", ["jupyterlab-git==0.50.0"], "extensions"),
    ],
)
def test_settings_for_a_feature_not_selected_are_refused(setting, value, feature):
    with pytest.raises(BadInput, match=f"needs feature {feature}") as err:
        render(LccSettings(app_type="JupyterLab", features=["conda"] if feature != "conda" else [],
                           wheel=WHEEL, **{setting: value}))  # fmt: skip
    assert "--features" in str(err.value)


def test_cli_refuses_a_setting_of_an_unselected_feature(capsys):
    args = ["lcc", "render", "--app-type", "JupyterLab", "--features", "conda", "--wheel", WHEEL]
    assert main([*args, "--pip-index-url", "https://mirror.corp/simple"]) == 2
    assert "--pip-index-url needs feature proxy (add it to --features)" in capsys.readouterr().err


def test_a_setting_that_only_implies_a_feature_still_turns_it_on():
    r = render(LccSettings(app_type="JupyterLab", no_proxy="localhost", wheel=WHEEL))
    assert "proxy" in r.features


# --- empty arrays on bash < 4.4 under set -u ------------------------------------------------------
@pytest.mark.parametrize("features", [[], list(FEATURES)], ids=["minimal", "all"])
def test_no_bare_expansion_of_an_array_that_can_be_empty(features):
    r = render(settings_for("JupyterServer", features))
    # "${a[@]}" of an empty array is 'unbound' on bash < 4.4 under set -u; only arrays the
    # generator guarantees non-empty may be expanded bare
    bare = set(re.findall(r'(?<!\+)"\$\{(\w+)\[@\]\}"', r.script))
    assert bare <= {"PYTHONS", "EXTENSIONS"}, bare
