"""The List* operations' shared steps: filters, sort, opaque-token pagination, summaries."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Callable

from smstudio_ext.clock import utcnow

from .errors import invalid
from .settings import SETTINGS

Record = dict[str, Any]
Summary = Callable[[Record], Record]
#: Request parameter → (record field, True for "before" / False for "after").
TimeFilters = Mapping[str, "tuple[str, bool]"]


#: ``SortBy`` values of the kinds sorted by time (profiles, spaces, LCCs, app image configs).
BY_TIME = {"CreationTime": "CreationTime", "LastModifiedTime": "LastModifiedTime"}


def time_filters(modified: str) -> dict[str, tuple[str, bool]]:
    """CreationTimeBefore/After plus ``<modified>Before/After`` on ``LastModifiedTime``."""
    return {
        "CreationTimeBefore": ("CreationTime", True),
        "CreationTimeAfter": ("CreationTime", False),
        modified + "Before": ("LastModifiedTime", True),
        modified + "After": ("LastModifiedTime", False),
    }


def paginate(
    items: list[Any], params: Mapping[str, Any], default: int | None = None
) -> tuple[list[Any], str | None]:
    """Offset pagination with an opaque token; a foreign token is a ValidationException."""
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(json.loads(base64.b64decode(token).decode())["o"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid(f"Invalid pagination token: {token}") from None
    limit = params.get("MaxResults") or default or SETTINGS.default_max_results
    page = items[start : start + limit]
    nxt = None
    if start + limit < len(items):
        nxt = base64.b64encode(json.dumps({"o": start + limit}).encode()).decode()
    return page, nxt


def sort(
    items: list[Record], params: Mapping[str, Any], keys: Mapping[str, str], default: str
) -> list[Record]:
    """``SortBy`` (one of ``keys``, else ``default``) and ``SortOrder`` (default Descending)."""
    field = keys.get(params.get("SortBy") or default, keys[default])
    reverse = (params.get("SortOrder") or "Descending").lower() == "descending"
    return sorted(items, key=lambda item: item.get(field) or "", reverse=reverse)


def filter_times(items: list[Record], params: Mapping[str, Any], spec: TimeFilters) -> list[Record]:
    out = items
    for param, (field, before) in spec.items():
        value = params.get(param)
        if value is None:
            continue
        when = datetime.fromtimestamp(float(value), tz=utcnow().tzinfo)
        if before:
            out = [i for i in out if i[field] < when]
        else:
            out = [i for i in out if i[field] > when]
    return out


def public(record: Record) -> Record:
    """A record without its private (``_``-prefixed) bookkeeping fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def pick(*fields: str) -> Summary:
    """A summary made of ``fields`` (those the record has)."""
    return lambda record: {k: record[k] for k in fields if k in record}


def list_page(
    records: Iterable[Record],
    params: Mapping[str, Any],
    result_key: str,
    *,
    summary: Summary = public,
    equals: Mapping[str, str] | None = None,
    contains: Mapping[str, str] | None = None,
    times: TimeFilters | None = None,
    sort_keys: Mapping[str, str] | None = None,
    default_sort: str = "CreationTime",
) -> dict[str, Any]:
    """One List* answer: filter, sort, paginate, summarise.

    ``equals`` / ``contains`` map a request parameter to the record field it filters on (exact
    match / substring); ``sort_keys`` maps ``SortBy`` values to record fields.
    """
    items = list(records)
    for param, field in (equals or {}).items():
        if params.get(param):
            items = [i for i in items if i.get(field) == params[param]]
    for param, field in (contains or {}).items():
        if params.get(param):
            items = [i for i in items if params[param] in i[field]]
    if times:
        items = filter_times(items, params, times)
    items = sort(items, params, sort_keys or {default_sort: default_sort}, default_sort)
    page, nxt = paginate(items, params)
    return {result_key: [summary(i) for i in page], "NextToken": nxt}
