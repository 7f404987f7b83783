"""Compliance over time: every audit run leaves a dated JSON result, the report reads them back.

A store is a directory or an S3 prefix (``s3://bucket/prefix``). One file per run,
``audit-run-<UTC time>.json``, holding per guardrail the status of every owner::

    {"format_version": 1, "kind": "smstudio-audit-run", "run_at": "...",
     "domains": [{"account_id", "region", "domain_id"}],
     "titles": {"user-id-tag": "...", ...},
     "results": {"user-id-tag": {"123456789012/us-east-1/d-x/user-profile:alice": "pass", ...}}}

An owner is ``<account>/<region>/<domain>/<kind>:<name>`` (``.../domain`` for the domain-level
checks). Checks reported per app (``app-lcc:<type>/<name>``) count under their guardrail
(``app-lcc``) with the owner's worst status (fail > unknown > pass).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from ... import clock
from ...aws import AwsClients, call, paginate
from ...errors import BadInput, SmStudioError
from ...fsutil import atomic_write

log = logging.getLogger("smstudio_ext")

FORMAT_VERSION = 1
KIND = "smstudio-audit-run"
PREFIX = "audit-run-"
_NAME = re.compile(r"^audit-run-\d{8}T\d{12}Z\.json$")
_S3 = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")
_RANK = {"fail": 2, "unknown": 1, "pass": 0}


def owner_key(scope: dict[str, Any], kind: str | None, name: str | None) -> str:
    base = f"{scope['account_id']}/{scope['region']}/{scope['domain_id']}"
    return f"{base}/domain" if kind is None else f"{base}/{kind}:{name}"


def run_record(audits: list[dict[str, Any]], run_at: datetime) -> dict[str, Any]:
    """The compact record of one run from the audits' ``to_dict()`` (each with its scope keys
    ``account_id``, ``region`` and ``domain_id``)."""
    results: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}

    def put(check: dict[str, Any], owner: str) -> None:
        guardrail = str(check["id"]).split(":", 1)[0]
        titles.setdefault(guardrail, check.get("title") or guardrail)
        status = str(check.get("status")) if check.get("status") in _RANK else "unknown"
        current = results.setdefault(guardrail, {}).get(owner)
        if current is None or _RANK[status] > _RANK[current]:
            results[guardrail][owner] = status

    for audit in audits:
        for check in audit.get("domain_checks") or []:
            put(check, owner_key(audit, None, None))
        for owner in audit.get("owners") or []:
            for check in owner.get("checks") or []:
                put(check, owner_key(audit, owner["kind"], owner["name"]))
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "run_at": clock.isoformat_z(run_at),
        "domains": [{k: a[k] for k in ("account_id", "region", "domain_id")} for a in audits],
        "titles": titles,
        "results": results,
    }


def _valid(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and record.get("kind") == KIND
        and record.get("format_version") == FORMAT_VERSION
        and isinstance(record.get("run_at"), str)
        and isinstance(record.get("results"), dict)
    )


class Store:
    """A directory or an S3 prefix holding one JSON file per run."""

    def __init__(self, location: str, clients: AwsClients | None = None) -> None:
        self.location = location
        self.clients = clients
        match = _S3.match(location)
        if location.startswith("s3://"):
            if not match:
                raise BadInput(f"invalid S3 location {location!r} (expected s3://bucket/prefix)")
            self.bucket: str | None = match.group(1)
            prefix = (match.group(2) or "").strip("/")
            self.prefix = prefix + "/" if prefix else ""
        else:
            self.bucket = None
            self.prefix = ""
            if os.path.exists(location) and not os.path.isdir(location):
                raise BadInput(f"history location {location!r} is a file, not a directory")

    @staticmethod
    def name(run_at: datetime) -> str:
        return PREFIX + run_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + ".json"

    def write(self, record: dict[str, Any]) -> str:
        """Write one run (atomically in a directory); returns where it went."""
        name = self.name(clock.parse_iso(record["run_at"]))
        data = json.dumps(record, indent=1, sort_keys=True).encode()
        if self.bucket is None:
            os.makedirs(self.location, exist_ok=True)
            path = os.path.join(self.location, name)
            atomic_write(path, data)
            return path
        assert self.clients is not None
        key = self.prefix + name
        call(
            self.clients.client("s3"),
            "PutObject",
            resource=f"s3://{self.bucket}/{key}",
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
        )
        return f"s3://{self.bucket}/{key}"

    def names(self) -> list[str]:
        if self.bucket is None:
            if not os.path.isdir(self.location):
                return []
            return sorted(n for n in os.listdir(self.location) if _NAME.match(n))
        assert self.clients is not None
        s3 = self.clients.client("s3")
        where = f"s3://{self.bucket}/{self.prefix}"

        def page(**params: Any) -> Any:
            token = params.pop("NextToken", None)
            if token:
                params["ContinuationToken"] = token
            answer = call(s3, "ListObjectsV2", resource=where, **params)
            answer["NextToken"] = answer.get("NextContinuationToken")
            return answer

        keys = paginate(page, "Contents", Bucket=self.bucket, Prefix=self.prefix + PREFIX)
        names = (str(o["Key"])[len(self.prefix) :] for o in keys)
        return sorted(n for n in names if _NAME.match(n))

    def read(self, name: str) -> Any:
        if self.bucket is None:
            with open(os.path.join(self.location, name), encoding="utf-8") as fh:
                return json.load(fh)
        assert self.clients is not None
        key = self.prefix + name
        body = call(
            self.clients.client("s3"),
            "GetObject",
            resource=f"s3://{self.bucket}/{key}",
            Bucket=self.bucket,
            Key=key,
        )["Body"]
        try:
            return json.loads(body.read())
        finally:
            body.close()

    def runs(self, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
        """The last ``limit`` readable runs (oldest first) and what was skipped, and why."""
        skipped: list[str] = []
        out: list[dict[str, Any]] = []
        for name in reversed(self.names()):
            if len(out) >= limit:
                break
            try:
                record = self.read(name)
            except (OSError, ValueError, SmStudioError) as exc:
                skipped.append(f"{name}: {getattr(exc, 'message', exc)}")
                continue
            if not _valid(record):
                skipped.append(f"{name}: not an audit run of format {FORMAT_VERSION}")
                continue
            out.append(record)
        return sorted(out, key=lambda r: r["run_at"]), skipped


def trend(runs: list[dict[str, Any]], max_changes: int = 200) -> dict[str, Any]:
    """Per guardrail the pass/fail/unknown counts of owners per run, and the owners whose status
    changed from one run to the next (newest first)."""
    guardrails = sorted({g for r in runs for g in r["results"]})
    titles: dict[str, str] = {}
    for r in runs:
        titles.update(r.get("titles") or {})
    table = []
    for g in guardrails:
        per_run = []
        for r in runs:
            counts = Counter((r["results"].get(g) or {}).values())
            per_run.append(
                {
                    "run_at": r["run_at"],
                    **{s: counts.get(s, 0) for s in ("pass", "fail", "unknown")},
                }
            )
        table.append({"id": g, "title": titles.get(g, g), "runs": per_run})
    changes: list[dict[str, Any]] = []
    for before, after in zip(runs, runs[1:]):
        for g in guardrails:
            old, new = before["results"].get(g) or {}, after["results"].get(g) or {}
            for owner in sorted(set(old) & set(new)):
                if old[owner] != new[owner]:
                    changes.append(
                        {
                            "run_at": after["run_at"],
                            "guardrail": g,
                            "owner": owner,
                            "from": old[owner],
                            "to": new[owner],
                        }
                    )
    changes.sort(key=lambda c: c["run_at"], reverse=True)
    totals = []
    for r in runs:
        overall: Counter[str] = Counter()
        for owners in r["results"].values():
            overall.update(owners.values())
        totals.append(
            {"run_at": r["run_at"], **{s: overall.get(s, 0) for s in ("pass", "fail", "unknown")}}
        )
    return {
        "runs": [r["run_at"] for r in runs],
        "totals": totals,
        "guardrails": table,
        "changes": changes[:max_changes],
        "changes_total": len(changes),
    }
