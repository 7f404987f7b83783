"""Regression tests for the lifecycle/image review findings A1-A7 (notes/lcc-review.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from smstudio_ext.admin import images, lcc
from smstudio_ext.admin.lcc import FEATURES, LccSettings, render
from smstudio_ext.cli import main
from smstudio_ext.errors import AccessDenied, BadInput

sys.path.insert(0, str(Path(__file__).parent))
import test_lcc_register as _register
import test_lcc_sandbox as _sandbox
from test_lcc_register import domain_app_settings, other_config, script
from test_lcc_render import FEATURE_SETS, settings_for

# the fixtures those modules define, shared here
clients = _register.clients
wheel, s3, sandbox = _sandbox.wheel, _sandbox.s3, _sandbox.sandbox

WHEEL = "s3://corp-wheels/smstudio/smstudio_ext-0.1.0-py3-none-any.whl"


def _function(script: str, name: str) -> str:
    """The body of shell function ``name`` in a rendered script."""
    m = re.search(rf"^{name}\(\) {{(.*?)^}}", script, re.M | re.S)
    if m is None:  # one-line function
        m = re.search(rf"^{name}\(\) {{(.*)}}$", script, re.M)
    assert m, f"no function {name}"
    return m.group(1)


# --- A1: the foreground part is bounded well inside Studio's 5 minutes ----------------------


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


def test_extensions_in_the_background_install_and_log(sandbox, s3):
    # Given extensions that do not fit the foreground budget (pip timeout 150 s)
    r = render(
        LccSettings(
            app_type="JupyterLab",
            wheel=s3[1],
            pip_timeout=150,
            extensions=["smstudio-ext==0.1.0"],  # already installed by then: a no-op
        )
    )
    assert re.search(r"^run extensions_bg$", r.script, re.M), r.script
    out = sandbox.run(r.script)
    assert out.returncode == 0 and "FAILED" not in out.stdout, out.stdout + out.stderr
    assert "job extensions started in the background" in out.stdout
    sandbox.wait_jobs("extensions")
    assert "job extensions finished (exit 0)" in (sandbox.state / "extensions.log").read_text()


# --- A2: a wheel URI without s3:// --------------------------------------------------------


def test_wheel_without_s3_scheme_is_normalised():
    r = render(
        LccSettings(app_type="JupyterLab", wheel="mybucket/w/smstudio_ext-0.1.0-py3-none-any.whl")
    )
    uri = re.search(r"^WHEEL_URI=(.*)$", r.script, re.M).group(1)
    assert uri.strip("'") == "s3://mybucket/w/smstudio_ext-0.1.0-py3-none-any.whl"


def test_a_bare_wheel_uri_downloads_in_the_sandbox(sandbox, s3):
    bare = s3[1][len("s3://") :]
    r = render(LccSettings(app_type="KernelGateway", wheel=bare))
    out = sandbox.run(r.script)
    assert out.returncode == 0 and "FAILED" not in out.stdout, out.stdout + out.stderr
    assert "installed: smstudio_ext" in out.stdout


# --- A3: detach by base name touches only our configs -------------------------------------


def test_detach_by_base_name_leaves_someone_elses_date_versioned_config(aws, world, clients):
    corp = other_config(aws, name="jupyter-20240115", app_type="JupyterLab")
    sm = aws.client("sagemaker")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp]}},
    )
    ours = lcc.register(clients, script(), domain=world.domain_id, name="jupyter")
    plan = lcc.detach(
        clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter", delete=True
    )
    assert domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"] == [corp]
    deleted = [
        c.params["StudioLifecycleConfigName"]
        for c in plan.calls
        if c.operation == "DeleteStudioLifecycleConfig"
    ]
    assert deleted == [ours.name]
    sm.describe_studio_lifecycle_config(StudioLifecycleConfigName="jupyter-20240115")  # kept


def test_detach_by_exact_name_still_detaches_an_untagged_config(aws, world, clients):
    corp = other_config(aws, name="jupyter-20240115", app_type="JupyterLab")
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp]}},
    )
    lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter-20240115")
    assert domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"] == []


def test_detach_by_base_name_when_tags_cannot_be_read_changes_nothing(aws, world, clients):
    plan = lcc.register(clients, script(), domain=world.domain_id, name="jupyter")
    before = domain_app_settings(aws, world, "JupyterLabAppSettings")
    # the tags can't be read and neither can the content: nothing proves it ours
    aws.deny("ListTags")
    aws.deny("DescribeStudioLifecycleConfig")
    with pytest.raises(AccessDenied) as err:
        lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter")
    assert "sagemaker:DescribeStudioLifecycleConfig" in str(err.value)
    assert domain_app_settings(aws, world, "JupyterLabAppSettings") == before
    # the content alone (our marker line) proves it ours when only the tags are denied
    aws.clear_faults()
    aws.deny("ListTags")
    lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter")
    after = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert plan.arn not in after["LifecycleConfigArns"]


# --- A4: restore guarded at run time, and before the git clones ---------------------------


def test_restore_without_the_restore_command_is_logged_and_clones_still_run(sandbox, tmp_path):
    # Given the installed smstudio has no `restore` command (the backup engine is separate)
    fake = tmp_path / "fakepkg" / "smstudio_ext"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '0.1.0'\n")
    (fake / "__main__.py").write_text("import sys\nsys.exit('no such command: ' + sys.argv[1])\n")
    r = render(
        LccSettings(
            app_type="JupyterLab",
            features=["restore", "git"],
            backup_bucket="s3://corp-backups/homes",
            restore=True,
            pip_spec="/nonexistent/smstudio_ext-0.1.0-py3-none-any.whl",
            git_repos=["https://127.0.0.1:9/corp/gone"],
        )
    )
    out = sandbox.run(r.script, PYTHONPATH=str(fake.parent))
    assert out.returncode == 0, out.stdout + out.stderr
    sandbox.wait_jobs("restore", "git_clone")
    restore_log = (sandbox.state / "restore.log").read_text()
    assert "restore not available in this smstudio" in restore_log
    assert "job restore finished (exit 0)" in restore_log
    # the clone job waited for the restore job: it finished after it
    clone_log = (sandbox.state / "git_clone.log").read_text()
    assert "waited for restore" in clone_log
    assert (sandbox.state / "restore.done").stat().st_mtime_ns <= (
        sandbox.state / "git_clone.done"
    ).stat().st_mtime_ns


def test_git_clone_waits_for_the_restore_in_the_script():
    r = render(
        settings_for("JupyterLab", ["restore", "git"]),
    )
    clone = _function(r.script, "job_git_clone")
    assert "after restore" in clone
    job = _function(r.script, "job_restore")
    assert "restore --help" in job


# --- A5: settings for a feature not selected ----------------------------------------------


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


# --- A6: images install as the notebook user ---------------------------------------------


def _install_users(dockerfile: str) -> list[tuple[str, str]]:
    """(effective USER, RUN text) for every RUN that installs packages."""
    user, out = "root", []
    for instr in re.split(r"\n(?=[A-Z]+ )", dockerfile.replace("\\\n", " ")):
        word, _, rest = instr.partition(" ")
        if word == "USER":
            user = rest.strip()
        elif word == "RUN" and re.search(
            r"pip install|lcc_runtime install|micromamba|ipykernel install", rest
        ):
            out.append((user, rest))
    return out


@pytest.mark.parametrize("kind", images.KINDS)
@pytest.mark.parametrize(
    "extra",
    [
        {"pip_spec": "smstudio-ext==0.1.0"},
        {"pip_spec": "smstudio-ext==0.1.0", "conda_env": True},
        {"wheel": "smstudio_ext-0.1-py3-none-any.whl"},
        {"wheel": "smstudio_ext-0.1-py3-none-any.whl", "wheelhouse": True},
    ],
)
def test_images_install_packages_as_the_notebook_user(kind, extra):
    text = images.render_dockerfile(images.ImageSpec(kind=kind, **extra))
    installs = _install_users(text)
    assert installs, text
    for user, run in installs:
        assert user not in ("0", "root", "0:0"), run
    for line in re.findall(r"^COPY .*/tmp/smstudio.*$", text, re.M):
        assert "--chown=" in line, line  # removable by the non-root user afterwards


# --- A7: empty arrays on bash < 4.4 under set -u ------------------------------------------


@pytest.mark.parametrize("features", [[], list(FEATURES)], ids=["minimal", "all"])
def test_no_bare_expansion_of_an_array_that_can_be_empty(features):
    r = render(settings_for("JupyterServer", features))
    # "${a[@]}" of an empty array is 'unbound' on bash < 4.4 under set -u; only arrays the
    # generator guarantees non-empty may be expanded bare
    bare = set(re.findall(r'(?<!\+)"\$\{(\w+)\[@\]\}"', r.script))
    assert bare <= {"PYTHONS", "EXTENSIONS"}, bare
