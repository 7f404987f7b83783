"""What idle shutdown saved: each app stop from CloudTrail, the hours it avoided, their price.

Method (printed in the report, ``METHOD``):

1. Every successful ``DeleteApp`` in the window is a shutdown. Ours: its ``userAgent`` carries
   ``smstudio-ext/`` (every client this project makes sets it). Others (people, Studio's own idle
   shutdown, scripts) are reported separately with the same arithmetic.
2. Hours avoided = the time until the **next ``CreateApp`` of the same app** (domain, owner, app
   type, app name) or until now if it has not started again, **capped** at
   ``working_day_hours``: without the shutdown the app would have run at most until its owner
   came back, and we assume nobody leaves an app running longer than a working day on purpose.
3. Price = the hourly price of the stopped app's instance type from the pricing engine (admin
   price file, Pricing API, bundled table). The instance type comes from the app's last
   ``CreateApp`` before the stop (its ``ResourceSpec``) or, when that is older than the window,
   from ``ListApps`` (which still lists recently deleted apps).
4. Money avoided = hours x price. Nothing is guessed: a stop whose hours, instance type or
   price can't be known is counted as a shutdown with an ``unknown`` amount and its reason, and
   totals say how many are unknown ("at least").

Unknown cases: the owner (space / profile) was deleted or re-created under the same name between
the stop and the end of the counted interval; another ``DeleteApp`` of the same app follows
without a ``CreateApp`` between (the history is incomplete); the instance type is not in the
history nor in ``ListApps``; the instance type has no price.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ... import clock
from ...apps import AppInfo
from ...insights.pricing import Price
from .owners import DomainOwners
from .trail import TrailEvent

DEFAULT_WORKING_DAY_HOURS = 8.0

METHOD = [
    "A shutdown is a successful DeleteApp in CloudTrail's event history (90 days at most). "
    "Ours are those whose userAgent carries smstudio-ext/; the others are listed apart.",
    "Hours avoided: from the shutdown to the next CreateApp of the same app (domain, owner, "
    "type, name), or to now if it has not started again, capped at {cap:g} hours (a working "
    "day): without the shutdown the app would have run at most until its owner came back.",
    "Price: the stopped app's instance type (from its last CreateApp, else from ListApps) at the "
    "hourly price of the pricing engine ({sources}).",
    "Money avoided = hours x price. A shutdown whose hours, instance type or price can't be known "
    "counts as a shutdown with an unknown amount and its reason; totals are then 'at least'.",
    "Not counted: storage (the home volume stays), apps that Studio or people would have stopped "
    "anyway sooner than the cap, and time zones (the cap is a plain number of hours).",
]


@dataclass
class Shutdown:
    account_id: str
    region: str
    domain_id: str
    owner_kind: str | None
    owner: str | None
    app_type: str | None
    app_name: str | None
    deleted_at: datetime
    ours: bool
    agent: str
    restarted_at: datetime | None = None
    gap_hours: float | None = None
    hours: float | None = None
    capped: bool = False
    instance_type: str | None = None
    instance_type_source: str | None = None
    price_per_hour: float | None = None
    currency: str | None = None
    price_source: str | None = None
    amount: float | None = None
    status: str = "ok"  # "ok" | "unknown"
    reason: str | None = None
    tags: dict[str, str] | None = None

    @property
    def week(self) -> str:
        day = self.deleted_at.astimezone(timezone.utc).date()
        return (day - timedelta(days=day.weekday())).isoformat()

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["deleted_at"] = _iso(self.deleted_at)
        d["restarted_at"] = _iso(self.restarted_at)
        d["week"] = self.week
        return d


def _iso(when: datetime | None) -> str | None:
    return clock.isoformat_z(when) if when else None


def agent_label(user_agent: str) -> str:
    """A short name for who stopped an app: ours, Studio/AWS, the console, an SDK or CLI."""
    ua = user_agent or ""
    if "smstudio-ext/" in ua:
        return "smstudio-ext"
    if ua == "AWS Internal":  # CloudTrail's user agent for console and internal AWS calls
        return "AWS console/internal"
    if ua.endswith("amazonaws.com"):  # a service acting, e.g. Studio's own idle shutdown
        return "AWS service (" + ua + ")"
    if "console" in ua.lower():
        return "AWS console"
    first = ua.split(" ", 1)[0].split("/", 1)[0]
    return first or "unknown"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def compute(
    events: Iterable[TrailEvent],
    owners: dict[str, DomainOwners],
    price: Callable[[str], Price],
    *,
    account_id: str,
    region: str,
    now: datetime,
    cap_hours: float,
    tag_keys: list[str],
    user_key: str,
    since: datetime | None = None,
) -> list[Shutdown]:
    """Every shutdown since ``since`` of the audited domains (``owners`` by domain id) in one
    account and region; earlier events only tell when and on what the apps started."""
    by_app: dict[tuple[Any, ...], list[TrailEvent]] = defaultdict(list)
    owner_deleted: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for e in events:
        if e.domain_id not in owners:
            continue
        if e.name in ("CreateApp", "DeleteApp"):
            by_app[e.app_key].append(e)
        elif e.owner_kind and e.owner:
            owner_deleted[(e.domain_id, e.owner_kind, e.owner)].append(e.time)
    out: list[Shutdown] = []
    for key, history in by_app.items():
        history.sort(key=lambda e: (e.time, e.name != "CreateApp"))
        domain_id, kind, name, app_type, app_name = key
        domain = owners[domain_id]
        boundaries = sorted(owner_deleted.get((domain_id, kind or "", name or ""), []))
        current = domain.owners.get((kind or "", name or ""))
        if current is not None and current.created is not None:
            # whole seconds, like CloudTrail's event times: an app created in the same second as
            # its space is not "before" the space
            bisect.insort(boundaries, current.created.replace(microsecond=0))
        listed = [
            a
            for a in domain.apps
            if (a.space_name if kind == "space" else a.user_profile_name) == name
            and a.app_type == app_type
            and a.app_name == app_name
        ]
        for i, e in enumerate(history):
            if e.name != "DeleteApp" or (since is not None and e.time < since):
                continue
            row = Shutdown(
                account_id=account_id,
                region=region,
                domain_id=domain_id,
                owner_kind=kind,
                owner=name,
                app_type=app_type,
                app_name=app_name,
                deleted_at=e.time,
                ours=e.ours,
                agent=agent_label(e.user_agent),
                tags=domain.tag_values(kind, name, tag_keys, user_key),
            )
            out.append(row)
            _hours(row, history[i + 1 :], boundaries, current is not None, now, cap_hours)
            _instance_type(row, history[:i], listed, boundaries)
            _money(row, price)
    out.sort(key=lambda s: s.deleted_at)
    return out


def _between(boundaries: list[datetime], start: datetime, end: datetime) -> datetime | None:
    for b in boundaries:
        if start < b < end:
            return b
    return None


def _unknown(row: Shutdown, reason: str) -> None:
    if row.status == "ok":
        row.status, row.reason = "unknown", reason


def _hours(
    row: Shutdown,
    after: list[TrailEvent],
    boundaries: list[datetime],
    owner_exists: bool,
    now: datetime,
    cap_hours: float,
) -> None:
    nxt = after[0] if after else None
    if nxt is not None and nxt.name == "DeleteApp":
        _unknown(
            row,
            "another DeleteApp of this app follows without a CreateApp between: the event "
            "history is incomplete",
        )
        return
    end = nxt.time if nxt is not None else now
    row.restarted_at = nxt.time if nxt is not None else None
    counted_end = min(end, row.deleted_at + timedelta(hours=cap_hours))
    boundary = _between(boundaries, row.deleted_at, counted_end + timedelta(seconds=1))
    what = f"{row.owner_kind} {row.owner}"
    if boundary is not None:
        _unknown(
            row,
            f"the {what} was deleted or re-created under the same name at "
            f"{_iso(boundary)}, before the app started again: how long it would have run "
            "can't be told",
        )
        return
    if not owner_exists and nxt is None:
        _unknown(
            row,
            f"the {what} no longer exists and its deletion is not in the event history: how "
            "long the app would have run can't be told",
        )
        return
    gap = (end - row.deleted_at).total_seconds() / 3600
    row.gap_hours = _round(gap)
    row.hours = _round(min(gap, cap_hours))
    row.capped = gap > cap_hours


def _instance_type(
    row: Shutdown, before: list[TrailEvent], listed: list[AppInfo], boundaries: list[datetime]
) -> None:
    for e in reversed(before):
        if e.name == "CreateApp":
            if e.instance_type and _between(boundaries, e.time, row.deleted_at) is None:
                row.instance_type, row.instance_type_source = e.instance_type, "CreateApp event"
                return
            break  # the start of this run of the app names no type: ask ListApps
    candidates = []
    for app in listed:
        created = app.created
        if created is None or not app.instance_type:
            continue
        created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        if created < row.deleted_at and _between(boundaries, created, row.deleted_at) is None:
            candidates.append((created, app.instance_type))
    if candidates:
        row.instance_type, row.instance_type_source = max(candidates)[1], "ListApps"


def _money(row: Shutdown, price: Callable[[str], Price]) -> None:
    if row.instance_type is None:
        _unknown(
            row,
            "the stopped app's instance type is unknown: its CreateApp is older than the "
            "event history and ListApps no longer lists it",
        )
        return
    p = price(row.instance_type)
    row.price_source = p.source
    if p.per_hour is None:
        _unknown(row, f"no price for {row.instance_type}: {p.note or 'unknown'}")
        return
    row.price_per_hour, row.currency = p.per_hour, p.currency
    if row.hours is not None and row.status == "ok":
        row.amount = _round(row.hours * p.per_hour)


# -- aggregation ----------------------------------------------------------------------------------


def _bucket() -> dict[str, Any]:
    return {"shutdowns": 0, "known": 0, "unknown": 0, "hours": 0.0, "amount": 0.0}


def _add(bucket: dict[str, Any], s: Shutdown) -> None:
    bucket["shutdowns"] += 1
    if s.status == "ok" and s.amount is not None:
        bucket["known"] += 1
        bucket["hours"] = round(bucket["hours"] + (s.hours or 0.0), 4)
        bucket["amount"] = round(bucket["amount"] + s.amount, 4)
    else:
        bucket["unknown"] += 1


def summarize(
    shutdowns: list[Shutdown],
    currency: str,
    tag_keys: list[str],
    *,
    weeks_from: datetime | None = None,
    until: datetime | None = None,
    qualify: bool = False,
) -> dict[str, Any]:
    """Totals (ours and others), per week, per owner, per app and per tag value (ours only).

    Amounts in another currency than ``currency`` are not added: they count as unknown with
    that reason (the admin price file decides the currency)."""
    for s in shutdowns:
        if s.amount is not None and s.currency and s.currency != currency:
            s.amount, s.status = None, "unknown"
            s.reason = f"priced in {s.currency}, the report adds {currency} only"
    ours = [s for s in shutdowns if s.ours]
    others = [s for s in shutdowns if not s.ours]
    totals, other_totals = _bucket(), _bucket()
    weeks: dict[str, dict[str, Any]] = defaultdict(_bucket)
    owners: dict[str, dict[str, Any]] = defaultdict(_bucket)
    apps: dict[str, dict[str, Any]] = defaultdict(_bucket)
    tags: dict[str, dict[str, dict[str, Any]]] = {k: defaultdict(_bucket) for k in tag_keys}
    agents: dict[str, dict[str, Any]] = defaultdict(_bucket)
    reasons: dict[str, int] = defaultdict(int)
    if weeks_from is not None and until is not None:  # empty weeks show as 0, not as a gap
        day = weeks_from.astimezone(timezone.utc).date()
        day -= timedelta(days=day.weekday())
        while day <= until.astimezone(timezone.utc).date():
            weeks[day.isoformat()] = _bucket()
            day += timedelta(days=7)
    for s in ours:
        _add(totals, s)
        _add(weeks[s.week], s)
        _add(owners[owner_label(s, qualify)], s)
        _add(apps[f"{owner_label(s, qualify)} {s.app_type}/{s.app_name}"], s)
        for k in tag_keys:
            _add(tags[k][(s.tags or {}).get(k, "(untagged)")], s)
        if s.status != "ok":
            reasons[s.reason or "unknown"] += 1
    for s in others:
        _add(other_totals, s)
        _add(agents[s.agent], s)

    def rows(table: dict[str, dict[str, Any]], label: str) -> list[dict[str, Any]]:
        items = [{label: k, **v} for k, v in table.items()]
        return sorted(items, key=lambda r: (-r["amount"], -r["shutdowns"], r[label]))

    return {
        "currency": currency,
        "totals": totals,
        "others": other_totals,
        "others_by_agent": rows(agents, "agent"),
        "by_week": sorted(({"week": k, **v} for k, v in weeks.items()), key=lambda r: r["week"]),
        "by_owner": rows(owners, "owner"),
        "by_app": rows(apps, "app"),
        "by_tag": {k: rows(v, "value") for k, v in tags.items()},
        "unknown_reasons": [
            {"reason": r, "shutdowns": n} for r, n in sorted(reasons.items(), key=lambda x: -x[1])
        ],
    }


def owner_label(s: Any, qualify: bool) -> str:
    """``space:alice-space``, or with ``qualify`` (several domains) ``acct/region/d-x space:...``."""
    label = f"{s.owner_kind}:{s.owner}"
    return f"{s.account_id}/{s.region}/{s.domain_id} {label}" if qualify else label
