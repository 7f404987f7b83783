"""What this profile/space costs: a live estimate, and billed figures from Cost Explorer.

* estimate: every running app (instance type, creation time) × hourly price → per hour now,
  since each app started, and today (UTC day). Apps stopped earlier today are not counted.
* billed: Cost Explorer ``GetCostAndUsage`` filtered by the owner's automatic tag
  (``sagemaker:space-arn`` / ``sagemaker:user-profile-arn``), month-to-date and last month in
  one request (each request is billed), only when enabled. Denied or no data → "not available"
  with the reason, never an error page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .. import clock
from ..apps import AppInfo
from ..aws import AwsClients, call, partition_info
from ..errors import AccessDenied, InvalidCredentials, NotConfigured, SmStudioError
from .pricing import FALLBACK, FALLBACK_DATE, FREE, PRICE_FILE, Price

CE_ACTION = "ce:GetCostAndUsage"
METRIC = "UnblendedCost"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _iso(when: datetime) -> str:
    return clock.isoformat_z(when)


def estimate(apps: Iterable[AppInfo], prices: dict[str, Price], now: datetime) -> dict[str, Any]:
    """The estimate part from live apps and their prices (pure).

    Amounts in different currencies are never added: ``totals`` holds one sum per currency, and
    the top-level figures are in one currency only (the admin price file's when it priced an
    app, else the one pricing most apps); apps priced in another currency make it ``partial``.
    """
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    file_currencies: set[str] = set()
    sources: set[str] = set()
    missing: list[str] = []
    for app in apps:
        price = prices.get(app.instance_type or "")
        rate = price.per_hour if price else None
        started = app.created
        hours = hours_today = None
        if started is not None:
            started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
            hours = max(0.0, (now - started).total_seconds() / 3600)
            hours_today = max(0.0, (now - max(started, midnight)).total_seconds() / 3600)
        row: dict[str, Any] = {
            "app_type": app.app_type,
            "app_name": app.app_name,
            "status": app.status,
            "instance_type": app.instance_type,
            "per_hour": _round(rate),
            "since_start": _round(rate * hours) if rate is not None and hours is not None else None,
            "today": _round(rate * hours_today)
            if rate is not None and hours_today is not None
            else None,
            "currency": price.currency if price and rate is not None else None,
            "started": _iso(started) if started else None,
            "price_source": price.source if price else "unknown",
        }
        rows.append(row)
        if price:
            sources.add(price.source)
        if rate is None or price is None:
            missing.append(app.instance_type or app.app_name)
            continue
        if price.source == PRICE_FILE:
            file_currencies.add(price.currency)
        counts[price.currency] = counts.get(price.currency, 0) + (0 if price.source == FREE else 1)
        total = totals.setdefault(
            price.currency, {"per_hour": 0.0, "since_start": 0.0, "today": 0.0}
        )
        total["per_hour"] += rate
        total["since_start"] += row["since_start"] or 0.0
        total["today"] += row["today"] or 0.0
    # a free ("system") app is 0 in any currency: don't let it open a currency of its own
    free_only = [c for c in totals if counts[c] == 0 and all(v == 0 for v in totals[c].values())]
    if len(totals) > len(free_only):
        for c in free_only:
            del totals[c]
    currency = _main_currency(counts, file_currencies) if totals else "USD"
    main = totals.get(currency, {"per_hour": 0.0, "since_start": 0.0, "today": 0.0})
    reasons: list[str] = []
    if missing:
        reasons.append("list price unknown for " + ", ".join(sorted(set(missing))))
    approximate = sorted({str(r["instance_type"]) for r in rows if r["price_source"] == FALLBACK})
    if approximate:
        reasons.append(
            "list price unknown for "
            + ", ".join(approximate)
            + f": approximate us-east-1 prices from the bundled {FALLBACK_DATE} table"
        )
    others = sorted(c for c in totals if c != currency)
    if others:
        left_out = sorted(
            f"{r['app_type']}/{r['app_name']} ({r['currency']})"
            for r in rows
            if r["currency"] in others
        )
        reasons.append(
            f"prices in several currencies: the totals are in {currency} only and leave out "
            + ", ".join(left_out)
            + " (see totals per currency)"
        )
    source = ", ".join(sorted(sources)) if sources else None
    return {
        "status": "partial" if reasons else "ok",
        "reason": "; ".join(reasons) if reasons else None,
        "source": "estimate",
        "as_of": _iso(now),
        "per_hour": _round(main["per_hour"]),
        "since_start": _round(main["since_start"]),
        "today": _round(main["today"]),
        "currency": currency,
        "totals": {c: {k: _round(v) for k, v in t.items()} for c, t in sorted(totals.items())},
        "apps": rows,
        "price_source": source,
    }


def _main_currency(counts: dict[str, int], file_currencies: set[str]) -> str:
    """The admin price file's currency if it priced an app, else the one pricing most apps."""
    for currency in sorted(file_currencies):
        if currency in counts:
            return currency
    return sorted(counts, key=lambda c: (-counts[c], c != "USD", c))[0]


def billed_periods(now: datetime) -> tuple[date, date, date]:
    """(last month's first day, this month's first day, tomorrow): CE end dates are exclusive."""
    today = now.astimezone(timezone.utc).date()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return last_month, this_month, today + timedelta(days=1)


def fetch_billed(
    clients: AwsClients, tag_key: str, tag_value: str, now: datetime, region: str | None = None
) -> dict[str, Any]:
    """One ``GetCostAndUsage`` request (raises typed errors), sent to the Cost Explorer
    endpoint of ``region``'s partition (us-east-1, cn-northwest-1 or us-gov-west-1)."""
    last_month, _, end = billed_periods(now)
    info = partition_info(region or clients.region)
    if info is None:
        raise NotConfigured(
            f"Cost Explorer has no endpoint in the partition of {region or clients.region}",
            action=CE_ACTION,
        )
    ce = clients.client("ce", region=info.cost_explorer_region)
    return call(
        ce,
        "GetCostAndUsage",
        resource=tag_value,
        TimePeriod={"Start": last_month.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=[METRIC],
        Filter={"Tags": {"Key": tag_key, "Values": [tag_value], "MatchOptions": ["EQUALS"]}},
    )


def _amount(total: dict[str, Any]) -> tuple[float, str] | None:
    metric = total.get(METRIC) or next(iter(total.values()), None)
    if not isinstance(metric, dict) or metric.get("Amount") in (None, ""):
        return None
    try:
        return float(metric["Amount"]), metric.get("Unit") or "USD"
    except (TypeError, ValueError):
        return None


def billed_from(response: dict[str, Any], tag_key: str, now: datetime) -> dict[str, Any]:
    """The billed part from a ``GetCostAndUsage`` answer (pure)."""
    last_month, this_month, _ = billed_periods(now)
    figures: dict[str, tuple[float, str]] = {}
    estimated = False
    for result in response.get("ResultsByTime") or []:
        start = (result.get("TimePeriod") or {}).get("Start", "")
        amount = _amount(result.get("Total") or {})
        if amount is None:
            continue
        estimated = estimated or bool(result.get("Estimated"))
        if start.startswith(this_month.isoformat()):
            figures["month_to_date"] = amount
        elif start.startswith(last_month.isoformat()):
            figures["last_month"] = amount
    base = billed_status("ok", None, now)
    if not figures:
        return billed_status(
            "not_available",
            f"Cost Explorer has no cost for tag {tag_key}: activate it as a cost-allocation "
            "tag (Billing console → Cost allocation tags; takes up to 24 h, data lags 24-48 h)",
            now,
        )
    base["month_to_date"] = (
        _round(figures["month_to_date"][0]) if "month_to_date" in figures else None
    )
    base["last_month"] = _round(figures["last_month"][0]) if "last_month" in figures else None
    base["currency"] = next(iter(figures.values()))[1]
    base["estimated"] = estimated
    base["tag_key"] = tag_key
    if all(v[0] == 0 for v in figures.values()):
        base["reason"] = (
            f"all figures are 0: if this is unexpected, check that {tag_key} is activated as a "
            "cost-allocation tag"
        )
    return base


def estimate_status(status: str, reason: str | None, **extra: Any) -> dict[str, Any]:
    """An estimate without figures (``error``, ``not_available``): the estimate's shape with
    every figure null, beside ``billed_status``."""
    out: dict[str, Any] = {"status": status, "reason": reason, **extra}
    out.update(
        source="estimate",
        as_of=None,
        per_hour=None,
        since_start=None,
        today=None,
        currency=None,
        totals={},
        apps=[],
        price_source=None,
    )
    return out


def billed_status(status: str, reason: str | None, now: datetime, **extra: Any) -> dict[str, Any]:
    out = {
        "status": status,
        "reason": reason,
        "source": "billed",
        "as_of": _iso(now) if status == "ok" else None,
        "month_to_date": None,
        "last_month": None,
        "currency": None,
    }
    out.update(extra)
    return out


def billed_error(exc: SmStudioError, now: datetime) -> dict[str, Any]:
    """Denied → not available naming the action; Cost Explorer not enabled or credentials
    refused → not available saying so; anything else → error with the reason."""
    if isinstance(exc, NotConfigured):  # e.g. Cost Explorer not enabled for the account
        return billed_status("not_available", f"not available: {exc.message}", now)
    if isinstance(exc, InvalidCredentials):
        return billed_status("not_available", f"not available: {exc.message}", now)
    if isinstance(exc, AccessDenied):
        return billed_status(
            "not_available",
            f"not available: the calling identity lacks {CE_ACTION} (ask the admin to grant it)",
            now,
            action=CE_ACTION,
        )
    return billed_status("error", f"Cost Explorer failed: {exc.message}", now)
