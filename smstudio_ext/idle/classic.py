"""Studio Classic: which KernelGateway app a kernel or an image terminal runs in.

In Classic, jupyter_server runs in the user's JupyterServer app and reaches kernels through a
gateway; each kernel and each "image terminal" lives in a KernelGateway app, one app per
(SageMaker image, instance type). ``ListApps`` of the profile gives every KernelGateway app with
its ``ResourceSpec`` (image ARN, instance type). What we know of a kernel, in order of trust:

1. an ``app_name`` in the kernel model (Studio's gateway reports it);
2. the kernelspec's metadata, ``{"sagemaker"|"smstudio": {"app_name" | "image_arn",
   "instance_type"}}`` (custom kernelspecs and tests);
3. the kernel name ``<spec>__SAGEMAKER_INTERNAL__<image arn>`` plus an ``instance_type`` in the
   model or the spec metadata (the names Studio Classic gives its kernelspecs).

Image terminals are named ``<image arn>__<terminal id>__<instance type>``. When the evidence
fits several apps, the activity counts for all of them (never kill running work); when it fits
none, the monitor treats an active unmapped kernel as activity for every app.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..apps import AppInfo
from .signals import KernelInfo

INTERNAL_MARKER = "__SAGEMAKER_INTERNAL__"
_IMAGE_RE = re.compile(r":(?:image|image-version)/([^/]+)")


@dataclass
class Mapping:
    apps: list[str] = field(default_factory=list)
    how: str = ""

    @property
    def mapped(self) -> bool:
        return bool(self.apps)


def image_name(arn: str | None) -> str | None:
    """``arn:aws:sagemaker:r:a:image/datascience-1.0`` (or ``image-version/x/3``) -> the name."""
    if not arn:
        return None
    m = _IMAGE_RE.search(arn)
    return m.group(1).lower() if m else None


def _kg_apps(apps: Sequence[AppInfo]) -> list[AppInfo]:
    return [a for a in apps if a.app_type == "KernelGateway"]


def match_image(
    image_arn: str | None, instance_type: str | None, apps: Sequence[AppInfo]
) -> Mapping:
    """The KernelGateway app(s) running ``image_arn`` on ``instance_type`` (if known)."""
    want = image_name(image_arn)
    if not want:
        return Mapping(how=f"cannot read an image name from {image_arn!r}")
    candidates = [a for a in _kg_apps(apps) if image_name(a.image_arn) == want]
    if instance_type:
        exact = [a for a in candidates if a.instance_type == instance_type]
        if exact:
            return Mapping([a.app_name for a in exact], f"image {want} on {instance_type}")
        return Mapping(how=f"no KernelGateway app runs image {want} on {instance_type}")
    if len(candidates) == 1:
        return Mapping([candidates[0].app_name], f"the only app with image {want}")
    if candidates:
        return Mapping(
            [a.app_name for a in candidates],
            f"image {want} runs in {len(candidates)} apps, instance type unknown: counts for all",
        )
    return Mapping(how=f"no KernelGateway app runs image {want}")


def _spec_hints(meta: dict[str, Any]) -> dict[str, Any]:
    for key in ("smstudio", "sagemaker"):
        value = meta.get(key)
        if isinstance(value, dict):
            return value
    return {}


def kernel_app(kernel: KernelInfo, apps: Sequence[AppInfo]) -> Mapping:
    names = {a.app_name for a in _kg_apps(apps)}
    hints = _spec_hints(kernel.spec_metadata)
    for source, data in (("kernel model", kernel.model), ("kernelspec metadata", hints)):
        app_name = data.get("app_name") or data.get("appName")
        if isinstance(app_name, str) and app_name:
            if app_name in names:
                return Mapping([app_name], f"{source} names app {app_name}")
            return Mapping(how=f"{source} names app {app_name}, which is not running")
    instance_type = kernel.model.get("instance_type") or hints.get("instance_type")
    if hints.get("image_arn"):
        return match_image(hints["image_arn"], instance_type, apps)
    if INTERNAL_MARKER in kernel.name:
        return match_image(kernel.name.split(INTERNAL_MARKER, 1)[1], instance_type, apps)
    return Mapping(how=f"kernel {kernel.name!r} carries no app, image or instance type")


def terminal_app(name: str, apps: Sequence[AppInfo]) -> Mapping:
    """Image terminals: ``<image arn>__<id>__<instance type>``; others are system terminals."""
    if not name.startswith("arn:"):
        return Mapping(how="system terminal (runs on the JupyterServer instance)")
    parts = name.split("__")
    image = parts[0]
    instance_type = parts[2] if len(parts) > 2 else None
    return match_image(image, instance_type, apps)
