"""Hourly prices of Studio instance types: admin file > disk cache > Pricing API > bundled table.

* The admin price file (``Insights.price_file``) wins: negotiated rates, or a closed network.
* The AWS Price List Query API (``pricing:GetProducts``, service ``AmazonSageMaker``) lives in
  each partition's own regions (aws: us-east-1, eu-central-1, ap-south-1; aws-cn:
  cn-northwest-1, prices in CNY; aws-us-gov: us-gov-west-1; ``aws.pricing_region``); answers
  are cached on disk for days (``Insights.price_cache_path``): list prices change rarely.
* Which product is the Studio price: public notes on the SageMaker price list put the instance
  in ``usagetype`` (``USE1-Studio:JupyterLab-ml.r6i.4xlarge``) and leave the instance-type
  attribute empty on most rows, so a product matches by its ``instanceName``/``instanceType``
  attribute **or** by parsing ``usagetype``; the query asks for ``usagetype`` CONTAINS the type
  (one request), falling back to ``instanceName`` where CONTAINS is refused.
* When the API answered and lists no Studio price for a type: "list price unknown for X" (no
  guess). When it could not be asked (denied, unreachable, ``--no-prices``), in the ``aws``
  partition the bundled table of common ``ml.*`` us-east-1 list prices is used, and the note
  says so ("list price unknown for X (why): approximate ...").
* ``system`` (the Studio Classic Jupyter server's own instance) costs nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from .. import clock
from ..aws import AwsClients, call, paginate, partition_info, pricing_region
from ..errors import BadInput, SmStudioError
from ..fsutil import atomic_write_json

log = logging.getLogger("smstudio_ext")

SERVICE_CODE = "AmazonSageMaker"

FALLBACK_DATE = "2025-01"
# Approximate public on-demand list prices (USD/hour) of Studio notebook instances in us-east-1,
# as of FALLBACK_DATE. Used for every region when nothing better is available: other regions
# are usually 0-25 % dearer, so the estimate says where it comes from.
FALLBACK_PRICES: dict[str, float] = {
    "ml.t3.medium": 0.05,
    "ml.t3.large": 0.10,
    "ml.t3.xlarge": 0.20,
    "ml.t3.2xlarge": 0.399,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.m5.8xlarge": 1.843,
    "ml.m5.12xlarge": 2.765,
    "ml.m5.16xlarge": 3.686,
    "ml.m5.24xlarge": 5.53,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c5.9xlarge": 1.836,
    "ml.r5.large": 0.151,
    "ml.r5.xlarge": 0.302,
    "ml.r5.2xlarge": 0.605,
    "ml.r5.4xlarge": 1.21,
    "ml.g4dn.xlarge": 0.7364,
    "ml.g4dn.2xlarge": 1.0528,
    "ml.g4dn.4xlarge": 1.6856,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
    "ml.p3.2xlarge": 3.825,
}

FREE = "free"
PRICE_FILE = "price-file"
PRICING_API = "pricing-api"
DISK_CACHE = "pricing-api (disk cache)"
FALLBACK = f"fallback-table ({FALLBACK_DATE})"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Price:
    instance_type: str
    per_hour: float | None
    currency: str
    source: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_price_file(path: str) -> tuple[str, dict[str, float], dict[str, dict[str, float]]]:
    """(currency, prices for any region, prices per region) from an admin price file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise BadInput(f"price file {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise BadInput(f"price file {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"price file {path} must hold a JSON object")
    currency = data.get("currency", "USD")
    if not isinstance(currency, str) or not currency:
        raise BadInput(f"price file {path}: 'currency' must be a string like 'USD'")
    if "prices" not in data and "regions" not in data:
        flat = data  # {"ml.t3.medium": 0.05, ...}
        regions: Any = {}
    else:
        flat = data.get("prices", {})
        regions = data.get("regions", {})

    def numbers(table: Any, where: str) -> dict[str, float]:
        if not isinstance(table, dict):
            raise BadInput(f"price file {path}: {where} must be an object of instance type → price")
        out: dict[str, float] = {}
        for key, value in table.items():
            if key == "currency":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise BadInput(
                    f"price file {path}: {where}[{key!r}] must be a number >= 0, got {value!r}"
                )
            out[key] = float(value)
        return out

    if not isinstance(regions, dict):
        raise BadInput(f"price file {path}: 'regions' must be an object of region → prices")
    return (
        currency,
        numbers(flat, "prices"),
        {r: numbers(t, f"regions[{r!r}]") for r, t in regions.items()},
    )


# "<region prefix>-<kind>[:<app>-]<instance>", e.g. USE1-Studio:JupyterLab-ml.r6i.4xlarge,
# EU-Notebk:ml.t3.medium, USE1-Studio:ml.t3.medium; the region prefix may be absent
_USAGE_RE = re.compile(
    r"^(?:[A-Z]+[0-9]*-)?(?P<kind>[A-Za-z]+):(?:(?P<app>[A-Za-z]+)-)?"
    r"(?P<instance>ml\.[a-z0-9-]+\.[a-z0-9]+)$"
)
_CURRENCIES = ("USD", "CNY")


def usage_type_parts(usage_type: str) -> tuple[str, str | None, str] | None:
    """(kind, app, instance) of a SageMaker usage type, e.g. ``USE1-Studio:JupyterLab-ml.r6i.4xlarge``
    → ("Studio", "JupyterLab", "ml.r6i.4xlarge"); None when it names no instance."""
    m = _USAGE_RE.match(usage_type or "")
    return (m["kind"], m["app"], m["instance"]) if m else None


def parse_products(
    price_list: list[Any], instance_type: str, app_type: str | None = None
) -> float | None:
    """The Studio on-demand hourly price for ``instance_type`` (see ``parse_product_price``)."""
    found = parse_product_price(price_list, instance_type, app_type)
    return found[0] if found else None


def parse_product_price(
    price_list: list[Any], instance_type: str, app_type: str | None = None
) -> tuple[float, str] | None:
    """(price per hour, currency) of the Studio product for ``instance_type`` in
    ``GetProducts`` PriceList items, or None.

    A product is for the type when its ``instanceName``/``instanceType`` says so, or its
    ``usagetype`` ends with it. Several products share a type (Studio, notebook instances,
    hosting, training...): prefer ``Studio:<app_type>`` (JupyterLab by default), then any
    Studio usage or component, then notebooks; never another component's price.
    """
    ranked: list[tuple[int, float, str]] = []
    wanted_app = (app_type or "JupyterLab").lower()
    for raw in price_list:
        try:
            item = json.loads(raw) if isinstance(raw, str) else raw
            attrs = item["product"]["attributes"]
        except (ValueError, KeyError, TypeError):
            continue
        usage = str(attrs.get("usagetype") or attrs.get("usageType") or "")
        parts = usage_type_parts(usage)
        instance = (
            attrs.get("instanceName") or attrs.get("instanceType") or (parts[2] if parts else None)
        )
        if instance != instance_type:
            continue
        component = str(attrs.get("component", "")).lower()
        kind, app = (parts[0].lower(), (parts[1] or "").lower()) if parts else ("", "")
        if kind == "studio" and app == wanted_app:
            rank = 0
        elif kind == "studio" or "studio" in component:
            rank = 1
        elif kind == "notebk" or "notebook" in component:
            rank = 2
        else:
            continue
        price = _on_demand(item)
        if price is not None:
            ranked.append((rank, *price))
    if not ranked:
        return None
    _, value, currency = min(ranked)
    return value, currency


def _on_demand(item: dict[str, Any]) -> tuple[float, str] | None:
    terms = (item.get("terms") or {}).get("OnDemand") or {}
    for term in terms.values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("unit", "Hrs")).lower() not in ("hrs", "hours", "hour"):
                continue
            per_unit = dim.get("pricePerUnit") or {}
            for currency in _CURRENCIES:
                try:
                    return float(per_unit[currency]), currency
                except (KeyError, TypeError, ValueError):
                    continue
    return None


class PriceBook:
    """Hourly prices for one region. Thread-safe; the engine memoises ``price`` per type."""

    def __init__(
        self,
        clients: AwsClients | None,
        region: str,
        *,
        cache_path: str | None = None,
        cache_days: float = 7.0,
        price_file: str = "",
        use_api: bool = True,
    ) -> None:
        self.clients = clients
        self.region = region
        self.cache_path = cache_path
        self.cache_days = cache_days
        self.price_file = price_file
        self.use_api = use_api and clients is not None
        self.file_error: str | None = None
        self._file: tuple[str, dict[str, float], dict[str, dict[str, float]]] | None = None
        self._file_mtime: float | None = None
        self._lock = threading.Lock()

    # -- admin price file --------------------------------------------------------------------

    def file_stamp(self) -> tuple[int, int] | None:
        """The admin price file's (mtime ns, size), None without one: a cache-key part."""
        if not self.price_file:
            return None
        try:
            st = os.stat(self.price_file)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _file_price(self, instance_type: str) -> tuple[float, str] | None:
        if not self.price_file:
            return None
        with self._lock:
            try:
                mtime = os.stat(self.price_file).st_mtime
            except OSError:
                mtime = None
            if self._file is None or mtime != self._file_mtime:
                self._file_mtime = mtime
                try:
                    self._file = load_price_file(self.price_file)
                    self.file_error = None
                except BadInput as exc:
                    log.warning("smstudio: ignoring the admin price file: %s", exc.message)
                    self._file = ("USD", {}, {})
                    self.file_error = exc.message
            currency, flat, regions = self._file
        value = regions.get(self.region, {}).get(instance_type, flat.get(instance_type))
        return None if value is None else (value, currency)

    # -- disk cache ---------------------------------------------------------------------------

    def _read_disk(self) -> dict[str, Any]:
        if not self.cache_path:
            return {}
        try:
            with open(self.cache_path, encoding="utf-8") as fh:
                data = json.load(fh)
            entries = data.get("entries", {}) if isinstance(data, dict) else {}
            return entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            return {}  # missing or corrupt: refetch, and rewrite it whole

    def _disk_price(self, instance_type: str) -> tuple[float | None, str] | None:
        """(price or None = "the API lists none", currency) when cached and fresh."""
        entry = self._read_disk().get(f"{self.region}/{instance_type}")
        if not isinstance(entry, dict):
            return None
        try:
            fetched = clock.parse_iso(entry["fetched"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            return None
        if clock.utcnow() - fetched > timedelta(days=self.cache_days):
            return None
        price = entry.get("price")
        currency = entry.get("currency") or self.currency
        value = float(price) if isinstance(price, (int, float)) else None
        return value, str(currency)

    def _write_disk(self, instance_type: str, found: tuple[float, str] | None) -> None:
        if not self.cache_path:
            return
        with self._lock:
            entries = self._read_disk()
            entries[f"{self.region}/{instance_type}"] = {
                "price": found[0] if found else None,
                "currency": found[1] if found else self.currency,
                "fetched": clock.utcnow().isoformat(),
                "source": PRICING_API,
            }
            try:
                os.makedirs(os.path.dirname(self.cache_path) or ".", exist_ok=True)
                atomic_write_json(
                    self.cache_path, {"version": 1, "entries": entries}, indent=1, sort_keys=True
                )
            except OSError as exc:
                log.warning("smstudio: cannot write the price cache %s: %s", self.cache_path, exc)

    # -- Pricing API --------------------------------------------------------------------------

    @property
    def currency(self) -> str:
        """The currency of this region's list prices (CNY in aws-cn, else USD)."""
        info = partition_info(self.region)
        return info.currency if info else "USD"

    def fetch(self, instance_type: str) -> tuple[float, str] | None:
        """Ask the Pricing API of this region's partition (raises typed errors): (price,
        currency), or None when it lists no Studio price for the type in this region."""
        assert self.clients is not None
        endpoint = pricing_region(self.region)
        if endpoint is None:
            raise NotAvailable(f"the partition of {self.region} has no Price List Query API")
        client = self.clients.client("pricing", region=endpoint)
        fetch = functools.partial(call, client, "GetProducts", instance_type)
        region_filter = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": self.region}
        base = {"ServiceCode": SERVICE_CODE, "FormatVersion": "aws_v1", "MaxResults": 100}
        queries = [
            # usagetype carries the instance on every SageMaker product, instanceName not
            [region_filter, {"Type": "CONTAINS", "Field": "usagetype", "Value": instance_type}],
            # an endpoint refusing CONTAINS filters: match the attribute instead
            [
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
                region_filter,
            ],
        ]
        items: list[Any] = []
        for i, filters in enumerate(queries):
            try:
                items = list(paginate(fetch, "PriceList", max_pages=20, Filters=filters, **base))
                break
            except BadInput:
                if i == len(queries) - 1:
                    raise
        return parse_product_price(items, instance_type)

    def price(self, instance_type: str | None) -> Price:
        if not instance_type:
            return Price("", None, self.currency, UNKNOWN, "no instance type")
        if instance_type == "system":
            return Price(instance_type, 0.0, self.currency, FREE)
        from_file = self._file_price(instance_type)
        if from_file is not None:
            return Price(instance_type, from_file[0], from_file[1], PRICE_FILE)
        unlisted = (
            f"list price unknown for {instance_type} in {self.region}: the Pricing API lists "
            "no Studio price for it"
        )
        cached = self._disk_price(instance_type)
        if cached is not None:
            value, currency = cached
            if value is None:
                return Price(instance_type, None, currency, UNKNOWN, unlisted)
            return Price(instance_type, value, currency, DISK_CACHE)
        if not self.use_api:
            why = "the Pricing API is not used (--no-prices or no AWS clients)"
        else:
            try:
                found = self.fetch(instance_type)
            except SmStudioError as exc:
                why = f"the Pricing API failed: {exc.message}"
                log.info("smstudio: Pricing API failed for %s: %s", instance_type, exc.message)
            else:
                self._write_disk(instance_type, found)
                if found is None:
                    return Price(instance_type, None, self.currency, UNKNOWN, unlisted)
                return Price(instance_type, found[0], found[1], PRICING_API)
        return self._fallback(instance_type, why)

    def _fallback(self, instance_type: str, why: str) -> Price:
        """The bundled table, only where it means something (commercial partition, USD); the
        note always says the list price is unknown and why."""
        unknown_note = f"list price unknown for {instance_type} in {self.region} ({why})"
        info = partition_info(self.region)
        if info is None or info.name != "aws" or instance_type not in FALLBACK_PRICES:
            return Price(instance_type, None, self.currency, UNKNOWN, unknown_note)
        return Price(
            instance_type,
            FALLBACK_PRICES[instance_type],
            "USD",
            FALLBACK,
            f"{unknown_note}: approximate us-east-1 list price from the bundled "
            f"{FALLBACK_DATE} table",
        )


class NotAvailable(SmStudioError):
    """The partition has no Pricing API endpoint."""
