"""``smstudio idle status [--json]`` and ``smstudio idle keepalive 2h30m|90m|30``.

Both talk to the running Jupyter server (found through Jupyter's runtime files), which holds
the monitor's state.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..units import format_duration, parse_minutes
from .common import examples, info, print_json, print_table, show_help
from .server import server_api


def _fmt_minutes(seconds: float | None) -> str:
    """Idle time to the minute (``1h05m``, ``12m``)."""
    if seconds is None:
        return "-"
    return format_duration(int(seconds // 60) * 60) if seconds >= 60 else "0m"


MODE_LABELS = {
    "own": "own (smstudio shuts this app down when idle)",
    "platform": "platform (Studio's IdleSettings shut this app down; smstudio feeds them)",
    "both": "both (smstudio and the platform)",
    "none": "none (nothing shuts this app down when idle)",
    "unknown": "unknown (the platform's IdleSettings could not be read)",
}


def _mode_line(mode: dict[str, Any]) -> str:
    name = mode.get("mode")
    label = MODE_LABELS.get(str(name), str(name))
    timeout = mode.get("effective_timeout_minutes")
    return f"mode: {label}" + (f"; effective timeout {timeout} min" if timeout else "")


def _mode_details(data: dict[str, Any]) -> list[str]:
    mode = data.get("mode") or {}
    lines = [f"  {r}" for r in mode.get("reasons") or []]
    if mode.get("warning"):
        lines.append(f"warning: {mode['warning']}")
    pf = data.get("platform_file") or {}
    if pf.get("feeding"):
        when = pf.get("written_at") or "not yet (nothing active)"
        lines.append(f"platform activity file {pf.get('path')}: last written {when}")
    if pf.get("error"):
        lines.append(f"warning: {pf['error']}")
    if data.get("settings_ignored"):
        lines.append(f"warning: saved settings {data['settings_ignored']}")
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    data = server_api("GET", "smstudio/idle?refresh=1")
    if args.json:
        print_json(data)
        return 0
    mode = " (dry-run)" if data.get("dry_run") else ""
    bounds = data.get("bounds") or {}
    print(
        f"idle shutdown: {data['state']}{mode}; timeout {data['timeout_minutes']} min "
        f"(bounds {bounds.get('min')}..{bounds.get('max') or 'none'}); "
        f"idle for {_fmt_minutes(data.get('idle_seconds'))}"
    )
    print(_mode_line(data.get("mode") or {}))
    for line in _mode_details(data):
        print(line)
    if data.get("shutdown_at"):
        print(f"shutdown at {data['shutdown_at']} (warning from {data.get('warning_at')})")
    if data.get("keepalive_until"):
        print(f"kept alive until {data['keepalive_until']}")
    err = data.get("last_error")
    if err:
        action = f" (needs {err['action']})" if err.get("action") else ""
        print(f"error: {err.get('detail')}{action}")
    print()
    print_table(
        [
            (
                s["name"],
                "yes" if s["available"] else "no",
                "ACTIVE" if s["active"] else "-",
                s["reason"],
            )
            for s in data.get("signals", [])
        ],
        ["signal", "available", "active", "why"],
    )
    if data.get("apps"):
        print()
        print_table(
            [
                (
                    a.get("app_type"),
                    a.get("app_name"),
                    a.get("instance_type"),
                    a["decision"],
                    a["reason"],
                )
                for a in data["apps"]
            ],
            ["app type", "app", "instance", "decision", "why"],
        )
    return 0


def cmd_keepalive(args: argparse.Namespace) -> int:
    minutes = parse_minutes(args.duration)
    data = server_api("POST", "smstudio/idle/keepalive", {"minutes": minutes})
    if args.json:
        print_json(data)
    elif data.get("keepalive_until"):
        info(args, f"kept alive until {data['keepalive_until']}")
    else:
        info(args, "keep-alive cancelled")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "idle",
        help="idle auto-shutdown: status and keep-alive",
        description="Ask the running Jupyter server (found through Jupyter's runtime files, or "
        "SMSTUDIO_SERVER_URL and SMSTUDIO_SERVER_TOKEN) about idle shutdown.",
        epilog=examples("smstudio idle status", "smstudio idle keepalive 2h30m"),
    )
    idle_sub = parser.add_subparsers(dest="idle_command", metavar="SUBCOMMAND")
    status = idle_sub.add_parser(
        "status",
        help="state, signals and decisions of the idle monitor",
        epilog=examples("smstudio idle status", "smstudio idle status --json"),
    )
    status.set_defaults(func=cmd_status)
    keep = idle_sub.add_parser(
        "keepalive",
        help="postpone shutdown, e.g. 2h30m, 90m, 30 (0 cancels)",
        description="Keep this app running for a while, within the admin's bound "
        "(IdleShutdown.max_keepalive_minutes); 0 cancels a keep-alive.",
        epilog=examples(
            "smstudio idle keepalive 2h30m",
            "smstudio idle keepalive 90",
            "smstudio idle keepalive 0",
        ),
    )
    keep.add_argument("duration", help="how long: 2h30m, 90m, 45s or minutes; 0 cancels")
    keep.set_defaults(func=cmd_keepalive)
    parser.set_defaults(func=show_help(parser))
