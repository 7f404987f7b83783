"""Cost per user and team: the live estimate from the audit, and billed cost from Cost Explorer.

* live: every running app of the audited owners at its hourly price (the audit's own pricing),
  attributed to tag values (``owners.py``). Apps without a price are counted, not added as 0.
* billed: one ``GetCostAndUsage`` per account and tag key (MONTHLY, ``UnblendedCost``, this month
  and the last three, ``GroupBy`` the tag, filtered to SageMaker and to that account so that a
  management account never counts its members' costs again). Each request is billed
  (USD 0.01), so this runs only when asked (``--billed`` or ``Insights.billed_costs``).
  Cost Explorer groups by the tags on the billed resources, and only by tags activated as
  cost-allocation tags; everything else lands in ``(untagged)``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ...aws import AwsClients, call, paginate, partition_info
from ...errors import AccessDenied, NotConfigured, SmStudioError
from .owners import DomainOwners

CE_SERVICE = "Amazon SageMaker"  # Cost Explorer's SERVICE dimension value for SageMaker
METRIC = "UnblendedCost"
MONTHS = 4  # this month and the last three


def _round(value: float) -> float:
    return round(value, 4)


# -- live estimate --------------------------------------------------------------------------------


def live_by_tag(
    domains: list[tuple[DomainOwners, dict[str, Any]]],
    tag_keys: list[str],
    user_key: str,
    currency: str,
    *,
    missing: list[str] | None = None,
) -> dict[str, Any]:
    """Per tag key and value: running apps, priced apps, cost per hour (in ``currency``).

    ``missing`` names the domains that could not be read: their apps are not in the figures,
    which makes the part ``partial``."""
    tables: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in tag_keys}
    total = 0.0
    running = unpriced = 0
    unpriced_apps: list[str] = []
    for owners, audit in domains:
        for owner in audit.get("owners") or []:
            kind, name = owner["kind"], owner["name"]
            values = owners.tag_values(kind, name, tag_keys, user_key)
            for app in owner.get("apps") or []:
                running += 1
                price = app.get("price_per_hour")
                known = price is not None and (app.get("currency") or "USD") == currency
                if known:
                    total += price
                else:
                    unpriced += 1
                    unpriced_apps.append(f"{kind}:{name} {app['app_type']}/{app['app_name']}")
                for key in tag_keys:
                    row = tables[key].setdefault(
                        values[key],
                        {"value": values[key], "apps": 0, "unpriced": 0, "per_hour": 0.0},
                    )
                    row["apps"] += 1
                    if known:
                        row["per_hour"] = _round(row["per_hour"] + price)
                    else:
                        row["unpriced"] += 1
    by_tag = {
        k: sorted(t.values(), key=lambda r: (-r["per_hour"], r["value"])) for k, t in tables.items()
    }
    reasons = []
    if unpriced:
        reasons.append(
            f"{unpriced} running app(s) without a price in {currency} are counted but not added: "
            + ", ".join(sorted(unpriced_apps)[:10])
        )
    if missing:
        reasons.append("not counted, could not be read: " + "; ".join(missing))
    return {
        "status": "partial" if reasons else "ok",
        "reason": "; ".join(reasons) or None,
        "currency": currency,
        "running_apps": running,
        "unpriced_apps": unpriced,
        "per_hour": _round(total),
        "by_tag": by_tag,
    }


# -- billed (Cost Explorer) -----------------------------------------------------------------------


def months(now: datetime, count: int = MONTHS) -> list[str]:
    """``YYYY-MM`` of the last ``count`` months, oldest first, this month last."""
    first = now.astimezone(timezone.utc).date().replace(day=1)
    out = []
    for _ in range(count):
        out.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return out[::-1]


def _period(now: datetime) -> tuple[date, date]:
    start = date.fromisoformat(months(now)[0] + "-01")
    return start, now.astimezone(timezone.utc).date() + timedelta(days=1)


def _ce_unknown(exc: SmStudioError) -> str:
    code = str(exc.extra.get("aws_code", ""))
    text = exc.message
    if isinstance(exc, NotConfigured):  # aws.translate already says how to enable it
        return text
    if "not enabled" in text.lower():
        return (
            "Cost Explorer is not enabled for this account (enable it in the Billing console; "
            f"data appears within 24 h): {text}"
        )
    if isinstance(exc, AccessDenied):
        return f"this role lacks ce:GetCostAndUsage: {text}"
    if code == "DataUnavailableException":
        return f"Cost Explorer has no data for this period yet: {text}"
    return f"Cost Explorer failed: {text}"


def fetch_billed(
    clients: AwsClients, account_id: str, tag_key: str, now: datetime
) -> dict[str, Any]:
    """Billed SageMaker cost of one account per value of ``tag_key`` and month (typed errors
    become ``status: unknown`` with the reason)."""
    start, end = _period(now)
    wanted = months(now)
    info = partition_info(clients.region)
    if info is None:
        return {
            "status": "unknown",
            "reason": f"Cost Explorer has no endpoint in the partition of {clients.region}",
            "account_id": account_id,
        }
    ce = clients.client("ce", region=info.cost_explorer_region)

    def page(**params: Any) -> Any:  # Cost Explorer's token is NextPageToken
        token = params.pop("NextToken", None)
        if token:
            params["NextPageToken"] = token
        answer = call(ce, "GetCostAndUsage", resource=tag_key, **params)
        return {**answer, "NextToken": answer.get("NextPageToken")}

    results = paginate(
        page,
        "ResultsByTime",
        max_pages=50,
        TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=[METRIC],
        GroupBy=[{"Type": "TAG", "Key": tag_key}],
        Filter={
            "And": [
                {"Dimensions": {"Key": "SERVICE", "Values": [CE_SERVICE]}},
                {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account_id]}},
            ]
        },
    )
    values: dict[str, dict[str, float]] = defaultdict(dict)
    units: set[str] = set()
    estimated = False
    try:
        for result in results:
            month = str((result.get("TimePeriod") or {}).get("Start", ""))[:7]
            if month not in wanted:
                continue
            estimated = estimated or bool(result.get("Estimated"))
            for group in result.get("Groups") or []:
                key = (group.get("Keys") or [""])[0]
                value = key.split("$", 1)[1] if "$" in key else key
                metric = (group.get("Metrics") or {}).get(METRIC) or {}
                try:
                    amount = float(metric["Amount"])
                except (KeyError, TypeError, ValueError):
                    continue
                units.add(metric.get("Unit") or "USD")
                label = value or "(untagged)"
                values[label][month] = _round(values[label].get(month, 0.0) + amount)
    except SmStudioError as exc:
        return {"status": "unknown", "reason": _ce_unknown(exc), "account_id": account_id}
    if not values:
        return {
            "status": "unknown",
            "reason": (
                f"Cost Explorer returned no SageMaker cost grouped by {tag_key}: activate it as a "
                "cost-allocation tag (Billing console; up to 24 h, data lags 24-48 h)"
            ),
            "account_id": account_id,
        }
    if len(units) > 1:
        return {
            "status": "unknown",
            "reason": f"Cost Explorer answered in several currencies ({', '.join(sorted(units))})",
            "account_id": account_id,
        }
    return {
        "status": "ok",
        "reason": None,
        "account_id": account_id,
        "currency": next(iter(units)),
        "estimated": estimated,
        "values": {k: dict(v) for k, v in values.items()},
    }


def merge_billed(per_account: list[dict[str, Any]], tag_key: str, now: datetime) -> dict[str, Any]:
    """One table per tag key over every account: rows of value → {month: amount, total}."""
    wanted = months(now)
    ok = [r for r in per_account if r["status"] == "ok"]
    unknown = [r for r in per_account if r["status"] != "ok"]
    currencies = {r["currency"] for r in ok}
    reasons = [f"account {r['account_id']}: {r['reason']}" for r in unknown]
    if len(currencies) > 1:
        return {
            "status": "unknown",
            "reason": "accounts bill in several currencies: " + ", ".join(sorted(currencies)),
            "months": wanted,
            "rows": [],
            "tag_key": tag_key,
        }
    table: dict[str, dict[str, float]] = defaultdict(lambda: {m: 0.0 for m in wanted})
    for r in ok:
        for value, by_month in r["values"].items():
            for m, amount in by_month.items():
                table[value][m] = _round(table[value][m] + amount)
    rows: list[dict[str, Any]] = [
        {"value": v, "months": m, "total": _round(sum(m.values()))} for v, m in table.items()
    ]
    rows.sort(key=lambda r: (-float(r["total"]), str(r["value"])))
    status = "ok" if ok and not unknown else ("partial" if ok else "unknown")
    return {
        "status": status,
        "reason": "; ".join(reasons) or None,
        "tag_key": tag_key,
        "months": wanted,
        "currency": next(iter(currencies)) if currencies else None,
        "estimated": any(r.get("estimated") for r in ok),
        "accounts": sorted(r["account_id"] for r in ok),
        "rows": rows,
    }
