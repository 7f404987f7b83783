"""Talking to the running Jupyter server (for ``smstudio idle status`` and friends).

The server is found through Jupyter's runtime files (``jpserver-*.json``), or given explicitly
with ``SMSTUDIO_SERVER_URL`` (+ ``SMSTUDIO_SERVER_TOKEN``). Errors come back as typed errors.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from ..errors import AwsUnavailable, NotConfigured, SmStudioError, from_answer


def find_server() -> tuple[str, str]:
    """(base URL with trailing slash, token) of the running server, newest first."""
    url = os.environ.get("SMSTUDIO_SERVER_URL")
    if url:
        return url.rstrip("/") + "/", os.environ.get("SMSTUDIO_SERVER_TOKEN", "")
    from jupyter_server.serverapp import list_running_servers

    servers = sorted(list_running_servers(), key=lambda s: s.get("pid", 0), reverse=True)
    for info in servers:
        if _has_extension(info):
            return info["url"].rstrip("/") + "/", info.get("token", "")
    raise NotConfigured(
        "no running Jupyter server found (looked at Jupyter's runtime files); "
        "set SMSTUDIO_SERVER_URL and SMSTUDIO_SERVER_TOKEN to point at one"
    )


def _has_extension(info: dict[str, Any]) -> bool:
    try:
        api(
            info["url"].rstrip("/") + "/",
            info.get("token", ""),
            "GET",
            "smstudio/context",
            timeout=3,
        )
    except SmStudioError:
        return False
    return True


def api(
    base_url: str,
    token: str,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30,
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path.lstrip("/"), data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        detail = payload.get("detail") or payload.get("message") or exc.reason
        # mapped by the body's error code (a 409 not_configured exits 6, a conflict 5)
        raise from_answer(payload, exc.code, f"server answered {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise AwsUnavailable(f"cannot reach the Jupyter server at {base_url}: {exc}") from exc
    return json.loads(raw) if raw.strip() else None


def server_api(method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    url, token = find_server()
    return api(url, token, method, path, body, timeout)
