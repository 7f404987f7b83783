"""Hourly prices of Studio instance types: admin file > disk cache > Pricing API > bundled table.

* The admin price file (``Insights.price_file``) wins: negotiated rates, or a closed network.
* The AWS Price List Query API (``pricing:GetProducts``, service ``AmazonSageMaker``) has
  endpoints only in us-east-1 and ap-south-1; answers are cached on disk for days
  (``Insights.price_cache_path``), because list prices change rarely.
* When the API cannot answer (denied, unreachable, unknown type), a bundled table of common
  ``ml.*`` types is used and marked with its date.
* ``system`` (the Studio Classic Jupyter server's own instance) costs nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..aws import AwsClients, call
from ..errors import BadInput, SmStudioError

log = logging.getLogger("smstudio_ext")

SERVICE_CODE = "AmazonSageMaker"
PRICING_REGIONS = ("us-east-1", "ap-south-1")

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


def pricing_region(region: str) -> str:
    """The Pricing API endpoint region nearest to ``region`` (only two exist)."""
    return "ap-south-1" if region.startswith(("ap-", "me-", "af-")) else "us-east-1"


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


def parse_products(price_list: list[Any], instance_type: str) -> float | None:
    """The Studio on-demand USD/hour for ``instance_type`` from ``GetProducts`` PriceList items.

    Several products share an instance type (Studio notebooks, hosting, training, ...): prefer a
    ``component`` or ``usagetype`` naming Studio, then notebooks; never another component's price.
    """
    ranked: list[tuple[int, float]] = []
    for raw in price_list:
        try:
            item = json.loads(raw) if isinstance(raw, str) else raw
            attrs = item["product"]["attributes"]
        except (ValueError, KeyError, TypeError):
            continue
        if attrs.get("instanceName", attrs.get("instanceType")) not in (instance_type, None):
            continue
        component = str(attrs.get("component", "")).lower()
        usage = str(attrs.get("usagetype", "")).lower()
        if "studio" in component or "-studio:" in usage:
            rank = 0
        elif "notebook" in component or "notebk" in usage or "notebook" in usage:
            rank = 1
        else:
            continue
        price = _on_demand_usd(item)
        if price is not None:
            ranked.append((rank, price))
    if not ranked:
        return None
    return min(ranked)[1]


def _on_demand_usd(item: dict[str, Any]) -> float | None:
    terms = (item.get("terms") or {}).get("OnDemand") or {}
    for term in terms.values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("unit", "Hrs")).lower() not in ("hrs", "hours", "hour"):
                continue
            usd: Any = (dim.get("pricePerUnit") or {}).get("USD")
            try:
                return float(usd)
            except (TypeError, ValueError):
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

    def _disk_price(self, instance_type: str) -> tuple[float | None, bool] | None:
        entry = self._read_disk().get(f"{self.region}/{instance_type}")
        if not isinstance(entry, dict):
            return None
        try:
            fetched = datetime.fromisoformat(entry["fetched"])
        except (KeyError, TypeError, ValueError):
            return None
        if clock.utcnow() - fetched > timedelta(days=self.cache_days):
            return None
        price = entry.get("price")
        return (float(price) if isinstance(price, (int, float)) else None, True)

    def _write_disk(self, instance_type: str, price: float | None) -> None:
        if not self.cache_path:
            return
        with self._lock:
            entries = self._read_disk()
            entries[f"{self.region}/{instance_type}"] = {
                "price": price,
                "fetched": clock.utcnow().isoformat(),
                "source": PRICING_API,
            }
            directory = os.path.dirname(self.cache_path) or "."
            try:
                os.makedirs(directory, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".prices-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"version": 1, "entries": entries}, fh, indent=1, sort_keys=True)
                os.replace(tmp, self.cache_path)
            except OSError as exc:
                log.warning("smstudio: cannot write the price cache %s: %s", self.cache_path, exc)

    # -- Pricing API --------------------------------------------------------------------------

    def fetch(self, instance_type: str) -> float | None:
        """Ask the Pricing API (raises typed errors); None when it lists no Studio price."""
        assert self.clients is not None
        client = self.clients.client("pricing", region=pricing_region(self.region))
        params: dict[str, Any] = {
            "ServiceCode": SERVICE_CODE,
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": self.region},
            ],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        items: list[Any] = []
        for _ in range(20):  # a handful of pages at most for one type and region
            page = call(client, "GetProducts", resource=instance_type, **params)
            items.extend(page.get("PriceList") or [])
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        return parse_products(items, instance_type)

    def price(self, instance_type: str | None) -> Price:
        if not instance_type:
            return Price("", None, "USD", UNKNOWN, "no instance type")
        if instance_type == "system":
            return Price(instance_type, 0.0, "USD", FREE)
        from_file = self._file_price(instance_type)
        if from_file is not None:
            return Price(instance_type, from_file[0], from_file[1], PRICE_FILE)
        note = None
        cached = self._disk_price(instance_type)
        if cached is not None and cached[0] is not None:
            return Price(instance_type, cached[0], "USD", DISK_CACHE)
        if cached is None and self.use_api:
            try:
                value = self.fetch(instance_type)
            except SmStudioError as exc:
                note = exc.message
                log.info("smstudio: Pricing API failed for %s: %s", instance_type, exc.message)
            else:
                self._write_disk(instance_type, value)
                if value is not None:
                    return Price(instance_type, value, "USD", PRICING_API)
                note = f"the Pricing API lists no Studio price for {instance_type} in {self.region}"
        elif cached is not None:
            note = f"the Pricing API lists no Studio price for {instance_type} in {self.region}"
        if instance_type in FALLBACK_PRICES:
            return Price(instance_type, FALLBACK_PRICES[instance_type], "USD", FALLBACK, note)
        return Price(instance_type, None, "USD", UNKNOWN, note or "no price known")
