"""The idle engine without a server: policy rules, config validation, Classic mapping against the
emulator's seeded classic world, and DeleteApp outcomes against the emulator."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from traitlets import TraitError
from traitlets.config import Config

from smstudio_ext.apps import AppInfo, iter_apps
from smstudio_ext.aws import AwsClients
from smstudio_ext.errors import BadInput
from smstudio_ext.idle.actions import AppDeleter
from smstudio_ext.idle.classic import image_name, kernel_app, terminal_app
from smstudio_ext.idle.config import IdleShutdown
from smstudio_ext.idle.policy import Policy, Target
from smstudio_ext.idle.signals import KernelInfo, parse_timestamp

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


def _target(app_type, app_name, instance_type=None, *, started=None):
    """A target for the app ``app_type/app_name`` (the monitor builds them with ``Target.of``)."""
    app = AppInfo("d-x", app_type, app_name, "InService", instance_type=instance_type)
    return Target(f"{app_type}/{app_name}", app, started)


def _policy(**kw):
    base = dict(
        min_timeout_minutes=15, max_timeout_minutes=240, warning_minutes=10, grace_minutes=0
    )
    base.update(kw)
    return Policy(
        kw.pop("timeout_minutes", 60), **{k: v for k, v in base.items() if k != "timeout_minutes"}
    )


# --- policy -------------------------------------------------------------------------------------
def test_idle_timeline_idle_warning_shutdown():
    p = _policy()
    t = _target("JupyterLab", "default", "ml.t3.medium")
    assert p.decide(t, T0 + timedelta(minutes=30), T0, None).decision == "idle"
    first = p.decide(t, T0 + timedelta(minutes=50), T0, None)  # the first warning, on time
    assert first.decision == "warning" and first.warning_at == T0 + timedelta(minutes=50)
    warn = p.decide(t, T0 + timedelta(minutes=52), T0, None, warned_at=first.warning_at)
    assert warn.decision == "warning" and warn.shutdown_at == T0 + timedelta(minutes=60)
    assert warn.warning_at == T0 + timedelta(minutes=50)
    assert "in 8 min" in warn.reason
    # the warning stood since minute 50: at 60 the shutdown is due
    shut = p.decide(t, T0 + timedelta(minutes=60), T0, None, warned_at=warn.warning_at)
    assert shut.decision == "shutdown"
    assert "deleting JupyterLab default" in shut.reason


def test_shutdown_never_without_a_full_warning_lead():
    # Given a check that comes late (loop stall, suspended instance): 3 h idle, never warned
    p = _policy()
    t = _target("JupyterLab", "default")
    late = T0 + timedelta(hours=3)
    d = p.decide(t, late, T0, None)
    # Then it warns first, with the full lead time from now
    assert d.decision == "warning" and d.warning_at == late
    assert d.shutdown_at == late + timedelta(minutes=10)
    # and only shuts down once the warning stood for the lead time
    early = p.decide(t, late + timedelta(minutes=9), T0, None, warned_at=late)
    assert early.decision == "warning"
    on_time = p.decide(t, late + timedelta(minutes=10), T0, None, warned_at=late)
    assert on_time.decision == "shutdown"


def test_dry_run_also_waits_for_the_warning_lead():
    p = _policy(dry_run=True)
    t = _target("KernelGateway", "kg-1")
    late = T0 + timedelta(hours=2)
    assert p.decide(t, late, T0, None).decision == "warning"
    assert p.decide(t, late + timedelta(minutes=10), T0, None, warned_at=late).decision == "dry_run"


def test_active_signal_wins_over_any_idle_time():
    p = _policy()
    d = p.decide(_target("JupyterLab", "x"), T0 + timedelta(days=3), T0, "kernel 1: busy")
    assert d.decision == "active" and d.idle_seconds == 0 and d.reason == "kernel 1: busy"


def test_dry_run_decides_but_names_what_it_would_delete():
    p = _policy(dry_run=True)
    warned = T0 + timedelta(minutes=50)
    d = p.decide(
        _target("KernelGateway", "kg-1"), T0 + timedelta(hours=2), T0, None, warned_at=warned
    )
    assert d.decision == "dry_run" and "would delete kg-1" in d.reason


def test_local_target_is_never_deleted():
    d = _policy().decide(Target("local", deletable=False), T0 + timedelta(hours=5), T0, None)
    assert d.decision == "no_action"


def test_grace_period_after_app_start():
    # Given an app started at T0, timeout 15 min, grace 60 min, warning 10 min
    p = _policy(timeout_minutes=15, grace_minutes=60)
    t = _target("JupyterLab", "x", started=T0)
    # idle past the timeout but within the grace period: no shutdown
    d = p.decide(t, T0 + timedelta(minutes=20), T0, None)
    assert d.decision == "grace" and d.shutdown_at == T0 + timedelta(minutes=60)
    warn = p.decide(t, T0 + timedelta(minutes=55), T0, None)
    assert warn.decision == "warning" and warn.warning_at == T0 + timedelta(minutes=55)
    # warned at 55 (not at 50, when the grace's warning window opened): the full lead applies
    late = p.decide(t, T0 + timedelta(minutes=60), T0, None, warned_at=warn.warning_at)
    assert late.decision == "warning" and late.shutdown_at == T0 + timedelta(minutes=65)
    assert (
        p.decide(t, T0 + timedelta(minutes=65), T0, None, warned_at=warn.warning_at).decision
        == "shutdown"
    )


def test_overrides_per_app_and_instance_type_clamped_to_bounds():
    p = _policy(
        app_type_timeouts={"KernelGateway": 90},
        instance_type_timeouts={"ml.g*": 30, "ml.g5.*": 20, "ml.t3.*": 600},
    )
    assert p.timeout_for(_target("JupyterLab", "a", "ml.m5.large")) == 60
    assert p.timeout_for(_target("KernelGateway", "a", "ml.m5.large")) == 90
    assert p.timeout_for(_target("KernelGateway", "a", "ml.g4dn.xlarge")) == 30
    assert p.timeout_for(_target("JupyterLab", "a", "ml.g5.xlarge")) == 20  # most specific
    assert p.timeout_for(_target("JupyterLab", "a", "ml.t3.medium")) == 240  # admin max


def test_user_timeout_outside_bounds_names_the_bound():
    p = _policy()
    with pytest.raises(BadInput, match="below the admin minimum of 15") as low:
        p.check_timeout(5)
    assert low.value.extra["bound"] == "min_timeout_minutes"
    with pytest.raises(BadInput, match="above the admin maximum of 240"):
        p.check_timeout(241)
    with pytest.raises(BadInput, match="whole number"):
        p.check_timeout("60")
    assert p.check_timeout(240) == 240


def test_keepalive_bounds():
    p = _policy(max_keepalive_minutes=120)
    assert p.check_keepalive(120) == 120.0
    with pytest.raises(BadInput, match="above the admin maximum of 120"):
        p.check_keepalive(121)
    for bad in (-1, "2h", True):
        with pytest.raises(BadInput):
            p.check_keepalive(bad)


# --- config -------------------------------------------------------------------------------------
def test_config_env_defaults_and_bad_env_is_ignored(monkeypatch, caplog):
    monkeypatch.setenv("SMSTUDIO_IDLE_TIMEOUT_MINUTES", "45")
    monkeypatch.setenv("SMSTUDIO_IDLE_DRY_RUN", "yes")
    monkeypatch.setenv("SMSTUDIO_IDLE_MAX_TIMEOUT_MINUTES", "none")
    monkeypatch.setenv("SMSTUDIO_IDLE_ENABLED", "maybe")
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        cfg = IdleShutdown()
    assert cfg.timeout_minutes == 45 and cfg.dry_run is True and cfg.max_timeout_minutes is None
    assert cfg.enabled is True and "SMSTUDIO_IDLE_ENABLED" in caplog.text


@pytest.mark.parametrize(
    "section",
    [
        {"timeout_minutes": 0},
        {"check_interval_seconds": 0},
        {"cpu_threshold_percent": -1},
        {"instance_type_timeouts": {"ml.g*": 0}},
        {"ignore_processes": ["("]},
        {"delete_max_attempts": 0},
    ],
)
def test_config_validation_refuses_bad_values(section):
    with pytest.raises(TraitError):
        IdleShutdown(config=Config({"IdleShutdown": section}))


def test_contradicting_bounds_are_reported():
    cfg = IdleShutdown(
        config=Config({"IdleShutdown": {"min_timeout_minutes": 60, "max_timeout_minutes": 30}})
    )
    assert "above max_timeout_minutes" in cfg.bounds_problem()


def test_platform_timestamp_formats():
    want = datetime(2026, 11, 30, 2, 17, 30, 123456, tzinfo=timezone.utc)
    assert parse_timestamp("2026-11-30T02:17:30.123456Z\n") == want
    assert parse_timestamp("2026-11-30T02:17:30.123456z") == want
    assert parse_timestamp(str(want.timestamp())) == want
    assert parse_timestamp("garbage") is None and parse_timestamp("") is None


# --- Studio Classic mapping, against the seeded classic world -----------------------------------
@pytest.fixture
def classic(aws):
    from smstudio_ext.testing import seed_world

    world = seed_world(aws, kind="classic")
    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    apps = list(iter_apps(clients, world.domain_id, user_profile_name=world.primary_profile))
    return world, clients, apps


def _kg(world, instance):
    return next(
        a["app_name"]
        for a in world.apps
        if a["app_type"] == "KernelGateway" and a["instance_type"] == instance
    )


def test_classic_mapping_of_kernels_and_image_terminals(classic):
    world, _, apps = classic
    t3, m5 = _kg(world, "ml.t3.medium"), _kg(world, "ml.m5.large")
    image = next(a.image_arn for a in apps if a.app_type == "KernelGateway")
    assert image_name(image) == "datascience-1.0"
    internal = f"python3__SAGEMAKER_INTERNAL__{image}"
    # the kernel model names its app (Studio's gateway)
    k = KernelInfo("k1", internal, "idle", None, model={"app_name": m5})
    assert kernel_app(k, apps).apps == [m5]
    # the Studio kernel name + instance type
    k = KernelInfo("k2", internal, "idle", None, model={"instance_type": "ml.t3.medium"})
    assert kernel_app(k, apps).apps == [t3]
    # image known, instance type unknown, two apps run it: counts for both (never kill work)
    both = kernel_app(KernelInfo("k3", internal, "idle", None), apps)
    assert sorted(both.apps) == sorted([t3, m5]) and "counts for all" in both.how
    # kernelspec metadata (custom kernelspecs)
    k = KernelInfo(
        "k4",
        "custom",
        "idle",
        None,
        spec_metadata={"sagemaker": {"image_arn": image, "instance_type": "ml.m5.large"}},
    )
    assert kernel_app(k, apps).apps == [m5]
    # nothing to go on, or an app that is not running
    assert not kernel_app(KernelInfo("k5", "python3", "idle", None), apps).mapped
    gone = kernel_app(KernelInfo("k6", "x", "idle", None, model={"app_name": "nope"}), apps)
    assert not gone.mapped and "not running" in gone.how
    # image terminals: <image arn>__<id>__<instance type>; system terminals map to nothing
    assert terminal_app(f"{image}__abc123__ml.m5.large", apps).apps == [m5]
    assert not terminal_app("1", apps).mapped
    assert not terminal_app(f"{image}__abc__ml.p3.2xlarge", apps).mapped


# --- DeleteApp outcomes against the emulator ----------------------------------------------------
def _jupyterlab(world, clients) -> AppInfo:
    app = world.find_app(app_type="JupyterLab", owner=world.primary_space)
    return AppInfo(
        world.domain_id, "JupyterLab", app["app_name"], "InService", space_name=app["owner"]
    )


def _status(aws, world, app):
    sm = aws.client("sagemaker")
    return sm.describe_app(
        DomainId=world.domain_id,
        SpaceName=app.space_name,
        AppType=app.app_type,
        AppName=app.app_name,
    )["Status"]


def test_delete_throttled_then_succeeds(world, aws):
    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    sleeps = []
    deleter = AppDeleter(clients, backoff_seconds=0.01, sleep=sleeps.append)
    aws.fail("DeleteApp", code="ThrottlingException", status=400, times=3)
    app = _jupyterlab(world, clients)
    result = deleter.delete(app)
    assert result.outcome == "deleted"
    assert sleeps == [0.01, 0.02, 0.04]  # exponential backoff, our retries only
    assert aws.count("sagemaker", "DeleteApp") == 4
    assert _status(aws, world, app) in ("Deleting", "Deleted")


def test_delete_not_found_means_gone(world, aws):
    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    app = AppInfo(
        world.domain_id, "JupyterLab", "no-such-app", "InService", space_name=world.primary_space
    )
    assert AppDeleter(clients).delete(app).outcome == "gone"


def test_delete_denied_is_sticky_and_logged_once(world, aws, caplog):
    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    deleter = AppDeleter(clients, denied_retry_seconds=900)
    aws.deny("DeleteApp")
    app = _jupyterlab(world, clients)
    with caplog.at_level(logging.INFO, logger="smstudio_ext"):
        first = deleter.delete(app)
        aws.reset_counts()
        second = deleter.delete(app)
    assert first.outcome == second.outcome == "denied"
    assert first.error["action"] == "sagemaker:DeleteApp"
    assert aws.count("sagemaker", "DeleteApp") == 0  # not retried every interval
    assert caplog.text.count("cannot shut down") == 1
    assert _status(aws, world, app) == "InService"


def test_delete_other_failure_is_reported(world, aws):
    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    aws.fail("DeleteApp", code="InternalFailure", status=500)
    result = AppDeleter(clients, max_attempts=2, sleep=lambda s: None).delete(
        _jupyterlab(world, clients)
    )
    assert result.outcome == "failed" and result.error["error"] in ("aws_unavailable", "aws_error")
