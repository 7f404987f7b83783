"""A small AWS Price List Query API (``pricing``) for AmazonSageMaker, which moto lacks.

The product JSON has the shape of the public price list (``product.attributes``,
``terms.OnDemand.<sku>.<offer>.priceDimensions.<rate>.pricePerUnit.<currency>``), returned as
JSON strings in ``PriceList`` as the real API does.

What the products look like, mirroring public notes on the real SageMaker price list (see
docs/studio-facts.md); where those notes are silent the stricter shape is chosen:

* the instance is in ``usagetype``: ``<REGIONPREFIX>-<Kind>:<instance>``, and for Studio apps
  ``<REGIONPREFIX>-Studio:JupyterLab-<instance>`` (e.g. ``USE1-Studio:JupyterLab-ml.r6i.4xlarge``);
* Studio, notebook-instance and training products carry **no** instance-type attribute ("most
  rows have an empty Instance Type column"); only hosting products carry ``instanceName`` (so
  a filter on ``instanceName`` alone finds no Studio price, as on the real list);
* ``platoinstancetype`` = ``Studio-JupyterLab`` on Studio products; ``regionCode``,
  ``location``, ``vCpu``, ``memory``, ``gpu`` as strings;
* prices in USD, except the China regions (aws-cn), whose list is in CNY;
* the API answers only at its endpoints: aws us-east-1, eu-central-1, ap-south-1; aws-cn
  cn-northwest-1; aws-us-gov us-gov-west-1. A request signed for any other region is refused
  (the real service has no endpoint there at all).

**The prices are illustrative**, close to public us-east-1 list prices at the time of writing
and scaled by a regional factor; they are for tests and demos, never for real estimates.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

SERVICE_CODE = "AmazonSageMaker"
FORMAT_VERSION = "aws_v1"
PUBLICATION_DATE = "2025-01-01T00:00:00Z"
ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1", "cn-northwest-1", "us-gov-west-1")

REGIONS = {
    # regionCode: (location, usage-type prefix, price factor vs us-east-1, currency)
    "us-east-1": ("US East (N. Virginia)", "USE1", 1.0, "USD"),
    "us-west-2": ("US West (Oregon)", "USW2", 1.0, "USD"),
    "eu-west-1": ("EU (Ireland)", "EU", 1.11, "USD"),
    "eu-central-1": ("EU (Frankfurt)", "EUC1", 1.2, "USD"),
    "ap-south-1": ("Asia Pacific (Mumbai)", "APS3", 1.05, "USD"),
    "us-gov-west-1": ("AWS GovCloud (US-West)", "UGW1", 1.25, "USD"),
    "cn-north-1": ("China (Beijing)", "CNN1", 7.9, "CNY"),
    "cn-northwest-1": ("China (Ningxia)", "CNW1", 7.5, "CNY"),
}

# instance: (vCPU, memory GiB, GPUs, Studio price USD/h in us-east-1) - illustrative values
INSTANCES = {
    "ml.t3.medium": (2, 4, 0, 0.05),
    "ml.t3.large": (2, 8, 0, 0.10),
    "ml.t3.xlarge": (4, 16, 0, 0.20),
    "ml.t3.2xlarge": (8, 32, 0, 0.399),
    "ml.m5.large": (2, 8, 0, 0.115),
    "ml.m5.xlarge": (4, 16, 0, 0.23),
    "ml.m5.2xlarge": (8, 32, 0, 0.461),
    "ml.m5.4xlarge": (16, 64, 0, 0.922),
    "ml.c5.large": (2, 4, 0, 0.102),
    "ml.c5.xlarge": (4, 8, 0, 0.204),
    "ml.c5.2xlarge": (8, 16, 0, 0.408),
    "ml.r5.large": (2, 16, 0, 0.151),
    "ml.r5.xlarge": (4, 32, 0, 0.302),
    "ml.r6i.4xlarge": (16, 128, 0, 1.21),
    "ml.g4dn.xlarge": (4, 16, 1, 0.7364),
    "ml.g4dn.2xlarge": (8, 32, 1, 1.0528),
    "ml.g5.xlarge": (4, 16, 1, 1.408),
    "ml.g5.2xlarge": (8, 32, 1, 1.515),
    "ml.p3.2xlarge": (8, 61, 1, 3.825),
}

# component: (usage-type kind, price factor vs Studio, carries instanceName)
COMPONENTS = {
    "studio": ("Studio:JupyterLab", 1.0, False),
    "notebook": ("Notebk", 1.0, False),
    "hosting": ("Host", 1.2, True),
    "training": ("Train", 1.15, False),
}
# instance types the list offers for a component only in some regions (like the real one:
# ml.r6i has no training product)
NOT_OFFERED = {("ml.r6i.4xlarge", "training"), ("ml.r6i.4xlarge", "hosting")}


def _sku(*parts: str) -> str:
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def _product(region: str, instance: str, component: str) -> dict[str, Any]:
    location, prefix, region_factor, currency = REGIONS[region]
    vcpu, memory, gpu, base = INSTANCES[instance]
    kind, component_factor, named = COMPONENTS[component]
    price = base * region_factor * component_factor
    sku = _sku(region, instance, component)
    offer = "JRTCKXETXF"  # the public OnDemand offer term code
    rate = "6YS6EN2CT7"
    usage = f"{prefix}-{kind}-{instance}" if ":" in kind else f"{prefix}-{kind}:{instance}"
    attributes = {
        "servicecode": SERVICE_CODE,
        "servicename": "Amazon SageMaker",
        "location": location,
        "locationType": "AWS Region",
        "regionCode": region,
        "vCpu": str(vcpu),
        "memory": f"{memory} GiB",
        "gpu": str(gpu),
        "gpuMemory": "N/A" if not gpu else "16 GB",
        "usagetype": usage,
        "operation": "RunInstance",
        "computeType": "GPU" if gpu else "CPU",
    }
    if component == "studio":
        attributes["platoinstancetype"] = "Studio-JupyterLab"
    if named:
        attributes["instanceName"] = instance
    symbol = "$" if currency == "USD" else "CNY "
    price_dimension = {
        "rateCode": f"{sku}.{offer}.{rate}",
        "description": f"{symbol}{price:.4f} per {kind} {instance} hour in {location}",
        "beginRange": "0",
        "endRange": "Inf",
        "unit": "Hrs",
        "pricePerUnit": {currency: f"{price:.10f}"},
        "appliesTo": [],
    }
    return {
        "product": {"productFamily": "ML Instance", "attributes": attributes, "sku": sku},
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                f"{sku}.{offer}": {
                    "priceDimensions": {price_dimension["rateCode"]: price_dimension},
                    "sku": sku,
                    "effectiveDate": PUBLICATION_DATE,
                    "offerTermCode": offer,
                    "termAttributes": {},
                }
            }
        },
        "version": "20250101000000",
        "publicationDate": PUBLICATION_DATE,
    }


def all_products() -> list[dict[str, Any]]:
    return [
        _product(region, instance, component)
        for region in REGIONS
        for instance in INSTANCES
        for component in COMPONENTS
        if (instance, component) not in NOT_OFFERED
    ]


def hourly_price(instance: str, region: str = "us-east-1", component: str = "studio"):
    """The price this emulator serves (per hour, in the region's currency), or None; handy for
    test assertions."""
    if instance not in INSTANCES or region not in REGIONS or (instance, component) in NOT_OFFERED:
        return None
    product = _product(region, instance, component)
    term = next(iter(product["terms"]["OnDemand"].values()))
    per_unit = next(iter(term["priceDimensions"].values()))["pricePerUnit"]
    return float(next(iter(per_unit.values())))


def _field(product: dict[str, Any], field: str) -> str | None:
    lowered = field.lower()
    if lowered == "productfamily":
        return product["product"]["productFamily"]
    if lowered == "sku":
        return product["product"]["sku"]
    for key, value in product["product"]["attributes"].items():
        if key.lower() == lowered:
            return value
    return None


def _matches(product: dict[str, Any], flt: dict[str, Any]) -> bool:
    value = _field(product, flt.get("Field", ""))
    wanted = str(flt.get("Value", ""))
    kind = flt.get("Type", "TERM_MATCH")
    if value is None:
        return kind == "NONE_OF"
    if kind in ("TERM_MATCH", "EQUALS"):
        return value.lower() == wanted.lower()
    if kind == "CONTAINS":
        return wanted.lower() in value.lower()
    options = [v.strip().lower() for v in wanted.split(",")]
    if kind == "ANY_OF":
        return value.lower() in options
    if kind == "NONE_OF":
        return value.lower() not in options
    return False


def _error(code: str, message: str) -> tuple[int, str]:
    return 400, json.dumps({"__type": code, "Message": message, "message": message})


def _page(items: list[Any], params: dict[str, Any], default: int) -> tuple[list[Any], Any]:
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.b64decode(token).decode())
        except ValueError:
            raise LookupError(token) from None
    limit = int(params.get("MaxResults") or default)
    nxt = None
    if start + limit < len(items):
        nxt = base64.b64encode(str(start + limit).encode()).decode()
    return items[start : start + limit], nxt


def handle(operation: str, body: bytes, region: str) -> tuple[int, str]:
    """Serve one ``AWSPriceListService.<operation>`` request: (HTTP status, JSON body)."""
    if region and region not in ENDPOINT_REGIONS:
        return _error(
            "UnknownEndpoint",
            f"the Price List Query API has no endpoint in {region} "
            f"(endpoints: {', '.join(ENDPOINT_REGIONS)})",
        )
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return _error("SerializationException", "Invalid JSON body")
    try:
        if operation == "DescribeServices":
            code = params.get("ServiceCode")
            services = [] if code not in (None, SERVICE_CODE) else [
                {
                    "ServiceCode": SERVICE_CODE,
                    "AttributeNames": sorted(all_products()[0]["product"]["attributes"]),
                }
            ]  # fmt: skip
            page, nxt = _page(services, params, 100)
            return 200, json.dumps(
                {"Services": page, "FormatVersion": FORMAT_VERSION, "NextToken": nxt}
            )
        if params.get("ServiceCode") != SERVICE_CODE:
            if operation in ("GetProducts", "GetAttributeValues"):
                if not params.get("ServiceCode"):
                    return _error("InvalidParameterException", "ServiceCode is required")
                return 200, json.dumps(
                    {"PriceList": [], "AttributeValues": [], "FormatVersion": FORMAT_VERSION}
                )
        if operation == "GetProducts":
            products = [
                p
                for p in all_products()
                if all(_matches(p, f) for f in params.get("Filters") or [])
            ]
            page, nxt = _page(products, params, 100)
            out: dict[str, Any] = {
                "FormatVersion": params.get("FormatVersion") or FORMAT_VERSION,
                "PriceList": [json.dumps(p) for p in page],
            }
            if nxt:
                out["NextToken"] = nxt
            return 200, json.dumps(out)
        if operation == "GetAttributeValues":
            name = params.get("AttributeName", "")
            values = sorted({v for p in all_products() if (v := _field(p, name)) is not None})
            page, nxt = _page([{"Value": v} for v in values], params, 100)
            return 200, json.dumps({"AttributeValues": page, "NextToken": nxt})
    except LookupError:
        return _error("InvalidNextTokenException", "The pagination token is invalid")
    return _error("UnknownOperationException", f"Operation {operation} is not supported")
