"""Custom images: a Dockerfile and the matching AppImageConfig, their checks, and registration.

Templates live in ``images/`` (package data). The Dockerfile's ``@@TOKEN@@`` placeholders take
only validated values; the AppImageConfig is the template JSON with fields set in code. Studio
accepts UID/GID 1000/100 (and 0/0 for Classic KernelGateway); :func:`check_pair` refuses a
Dockerfile and an AppImageConfig that disagree, because such an app fails to launch.

A JupyterLab AppImageConfig carries no ``FileSystemConfig``: botocore's model says of
``JupyterLabAppImageConfig`` (and ``CodeEditorAppImageConfig``) "The FileSystemConfig object is
not supported", so there the 1000/100 rule is checked on the Dockerfile alone. KernelGateway
images (Studio Classic, legacy) keep theirs.

The package never comes from a public index by name (issue 13, as for lifecycle scripts): the
Dockerfile is refused without a source — our wheel copied into the build context (``--wheel``),
a wheelhouse folder (``--wheelhouse``, made by ``smstudio wheelhouse build``), or an explicit
``--pip-spec`` for the builder's own package index. It is installed by
``smstudio_ext.lcc_runtime install``, run from the wheel itself, the same step the lifecycle
script runs: every package the base image has is pinned to its installed version, so the
install only adds what is missing, and a failed install is undone (the build then fails).

Registration is create-or-reuse at every step, so re-running is safe:
CreateImage → CreateImageVersion (reused when the same BaseImage already has a version) → wait
for CREATED → Create/UpdateAppImageConfig → the domain's CustomImages (other images kept).
"""

from __future__ import annotations

import json
import re
import shlex
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ..aws import AwsClients, call
from ..errors import AwsError, BadInput, NotFound, SmStudioError
from . import validate as v
from .lcc import ApiCall, Plan
from .templates import read_template

KINDS = ("jupyterlab", "kernelgateway")
DEFAULT_BASE = "public.ecr.aws/sagemaker/sagemaker-distribution:2.0-cpu"
DEFAULT_PYTHON = "/opt/conda/bin/python"
HOME = "/home/sagemaker-user"
ALLOWED_IDS = {"jupyterlab": {(1000, 100)}, "kernelgateway": {(1000, 100), (0, 0)}}
CONFIG_KEY = {"jupyterlab": "JupyterLabAppImageConfig", "kernelgateway": "KernelGatewayImageConfig"}
SETTINGS_KEY = {"jupyterlab": "JupyterLabAppSettings", "kernelgateway": "KernelGatewayAppSettings"}


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise v.refuse("image kind", kind, "jupyterlab or kernelgateway")
    return kind


def check_ids(kind: str, uid: int, gid: int) -> None:
    """Refuse a UID/GID pair Studio rejects for this kind of image."""
    if (uid, gid) not in ALLOWED_IDS[check_kind(kind)]:
        allowed = " or ".join(f"{u}/{g}" for u, g in sorted(ALLOWED_IDS[kind], reverse=True))
        raise BadInput(
            f"UID/GID {uid}/{gid} is not accepted by Studio for {kind} images (use {allowed})",
            setting="uid/gid",
        )


@dataclass
class ImageSpec:
    kind: str
    base: str = DEFAULT_BASE
    python: str = DEFAULT_PYTHON
    uid: int = 1000
    gid: int = 100
    pip_spec: str | None = None  # opt-in: pip download from the builder's own index
    wheel: str | None = None  # our wheel's file name in the build context (or its wheelhouse)
    wheelhouse: bool = False  # the wheel sits in WHEELHOUSE_DIR/ with its dependencies
    conda_env: bool = False  # environment.yml in the build context
    kernel_name: str = "smstudio-python3"
    display_name: str = "Python 3 (smstudio)"
    app_image_config_name: str | None = None
    entrypoint: list[str] = field(default_factory=lambda: ["entrypoint-jupyter-server"])

    def checked(self) -> ImageSpec:
        check_kind(self.kind)
        v.image_ref(self.base)
        v.abs_path(self.python, "python")
        self.uid = v.int_range(self.uid, "uid", 0, 65535)
        self.gid = v.int_range(self.gid, "gid", 0, 65535)
        check_ids(self.kind, self.uid, self.gid)
        if self.wheel and self.pip_spec:
            raise BadInput("give one of --wheel FILE, --wheelhouse DIR or --pip-spec, not two")
        if self.wheelhouse and not self.wheel:
            raise BadInput("a wheelhouse needs the file name of our wheel in it")
        if self.wheel and not re.fullmatch(r"smstudio_ext-[A-Za-z0-9_.+-]+\.whl", self.wheel):
            raise v.refuse("wheel", self.wheel, "our wheel's file name (smstudio_ext-….whl)")
        if self.pip_spec:
            v.pip_spec(self.pip_spec)
        v.kernel_name(self.kernel_name)
        v.display_name(self.display_name)
        if self.app_image_config_name:
            v.sm_name(self.app_image_config_name, "app image config name")
        for part in self.entrypoint:
            v.safe_text(part, "container entrypoint")
        return self


WHEELHOUSE_DIR = "wheelhouse"  # the wheelhouse's folder in the build context
NO_SOURCE = (
    "say where the package comes from: --wheel FILE (our wheel, `python -m build --wheel`), "
    "--wheelhouse DIR (`smstudio wheelhouse build --python 3.11 --out DIR`: our wheel and its "
    "dependencies), or --pip-spec REQ for your own package index (the builder's pip "
    "settings); no image installs smstudio-ext from a public index by name"
)
_TMP = "/tmp/smstudio"


def _install_steps(spec: ImageSpec) -> str:
    """COPY/RUN lines putting our wheel in /tmp/smstudio and installing it with
    ``lcc_runtime install`` (image packages pinned, failed install undone; run from the wheel);
    a KernelGateway image also gets ipykernel when the base lacks it, from the same source."""
    chown = "COPY --chown=${NB_UID}:${NB_GID}"
    index = ""
    if spec.wheelhouse:  # the folder's wheels land in /tmp/smstudio itself
        copy = f"{chown} {WHEELHOUSE_DIR} {_TMP}\n"
        fetch = f"RUN w={_TMP}/{spec.wheel} \\\n"
    elif spec.wheel:
        copy = f"{chown} {spec.wheel} {_TMP}/{spec.wheel}\n"
        fetch = f"RUN w={_TMP}/{spec.wheel} \\\n"
    else:
        copy = ""
        index = " --index"
        fetch = (
            f'RUN "${{PYTHON}}" -m pip download --no-cache-dir --no-deps -q -d {_TMP} '
            f"{shlex.quote(str(spec.pip_spec))} \\\n"
            f" && w=$(find {_TMP} -maxdepth 1 -name 'smstudio_ext-*.whl') \\\n"
        )
    run = (
        f'{fetch} && PYTHONPATH="$w" "${{PYTHON}}" -m smstudio_ext.lcc_runtime install '
        f'--wheel "$w" \\\n'
        f"      --find-links {_TMP} --state {_TMP}/state --timeout 900{index} \\\n"
    )
    if spec.kind == "kernelgateway":
        no_index = "" if index else " --no-index"
        run += f"""\
 && {{ "${{PYTHON}}" -c 'import ipykernel' 2>/dev/null \\
      || "${{PYTHON}}" -m pip install --no-cache-dir -c {_TMP}/state/constraints.txt \\
           --find-links {_TMP}{no_index} 'ipykernel>=6'; }} \\
"""
    return f"{copy}{run} && rm -rf {_TMP}"


def render_dockerfile(spec: ImageSpec) -> str:
    spec.checked()
    if not (spec.wheel or spec.pip_spec):
        raise BadInput(NO_SOURCE, setting="wheel")
    text = read_template(f"images/Dockerfile.{spec.kind}")
    conda = ""
    if spec.conda_env:
        conda = (
            "COPY --chown=${NB_UID}:${NB_GID} environment.yml /tmp/smstudio/environment.yml\n"
            "RUN micromamba env update --yes --name base --file /tmp/smstudio/environment.yml \\\n"
            " && micromamba clean --all --yes \\\n"
            " && rm -rf /tmp/smstudio"
        )
    install = _install_steps(spec)
    if spec.wheelhouse:
        note = f"; the wheelhouse in {WHEELHOUSE_DIR}/ (our wheel {spec.wheel})"
    elif spec.wheel:
        note = f"; wheel {spec.wheel}"
    else:
        note = f"; pip downloads {spec.pip_spec} from the builder's package index"
    if spec.conda_env:
        note += "; environment.yml"
    values = {
        "BASE": spec.base,
        "UID": str(spec.uid),
        "GID": str(spec.gid),
        "PYTHON": spec.python,
        "CONDA_ENV": conda,
        "INSTALL": install,
        "KERNEL_NAME": shlex.quote(spec.kernel_name),
        "DISPLAY_NAME": shlex.quote(spec.display_name),
        "CONTEXT_NOTE": note,
    }
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        raise SmStudioError(f"unfilled placeholder in images/Dockerfile.{spec.kind}")
    return re.sub(r"\n{3,}", "\n\n", text)


def render_app_image_config(spec: ImageSpec) -> dict[str, Any]:
    """The CreateAppImageConfig parameters, from the template with our values set."""
    spec.checked()
    cfg: dict[str, Any] = json.loads(read_template(f"images/app-image-config.{spec.kind}.json"))
    if spec.app_image_config_name:
        cfg["AppImageConfigName"] = spec.app_image_config_name
    inner = cfg[CONFIG_KEY[spec.kind]]
    if spec.kind == "kernelgateway":
        inner["FileSystemConfig"].update(MountPath=HOME, DefaultUid=spec.uid, DefaultGid=spec.gid)
        inner["KernelSpecs"] = [{"Name": spec.kernel_name, "DisplayName": spec.display_name}]
    else:
        inner.pop("FileSystemConfig", None)  # not supported for JupyterLab (see above)
        inner["ContainerConfig"]["ContainerEntrypoint"] = list(spec.entrypoint)
    return cfg


# --- checks on files an admin may have edited ------------------------------------------------


def dockerfile_facts(text: str) -> dict[str, Any]:
    """UID, GID, final USER and kernel name as the Dockerfile states them (None = not found)."""
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)\s*$", text, re.M))
    users = re.findall(r"^USER\s+(\S+)\s*$", text, re.M)
    user = users[-1] if users else None
    if user:
        user = re.sub(r"^\$\{?(\w+)\}?$", lambda m: args.get(m.group(1), m.group(0)), user)
        user = user.split(":")[0]
        if user == args.get("NB_USER"):
            user = args.get("NB_UID")
    kernel = re.search(r"ipykernel install .*--name[ =]'?([A-Za-z0-9._-]+)", text)

    def num(x: str | None) -> int | None:
        return int(x) if x and x.isdigit() else None

    return {
        "uid": num(args.get("NB_UID")),
        "gid": num(args.get("NB_GID")),
        "user": num(user) if user and user.isdigit() else user,
        "kernel": kernel.group(1) if kernel else None,
        "platform_note": "linux/amd64" in text,
    }


def check_pair(kind: str, dockerfile: str, app_image_config: dict[str, Any]) -> list[str]:
    """Refuse a Dockerfile and AppImageConfig that disagree (BadInput lists every problem)."""
    check_kind(kind)
    facts = dockerfile_facts(dockerfile)
    inner = app_image_config.get(CONFIG_KEY[kind])
    if not isinstance(inner, dict):
        raise BadInput(f"the AppImageConfig has no {CONFIG_KEY[kind]} (wrong --kind?)")
    problems = []
    if kind == "jupyterlab" and "FileSystemConfig" in inner:
        problems.append(
            "JupyterLabAppImageConfig has a FileSystemConfig, which the service does not "
            "support for JupyterLab (botocore model): remove it"
        )
    # JupyterLab: no FileSystemConfig, so the Dockerfile alone must say 1000/100
    fs = (inner.get("FileSystemConfig") or {}) if kind == "kernelgateway" else {}
    cfg_uid, cfg_gid = fs.get("DefaultUid", 1000), fs.get("DefaultGid", 100)
    pairs = [(facts["uid"], facts["gid"], "Dockerfile")]
    if facts["uid"] is None or facts["gid"] is None:
        problems.append("the Dockerfile sets no numeric ARG NB_UID / NB_GID")
    else:
        if fs and (facts["uid"], facts["gid"]) != (cfg_uid, cfg_gid):
            problems.append(
                f"Dockerfile UID/GID {facts['uid']}/{facts['gid']} != AppImageConfig "
                f"DefaultUid/DefaultGid {cfg_uid}/{cfg_gid}"
            )
        if facts["user"] is not None and facts["user"] != facts["uid"]:
            problems.append(f"the final USER {facts['user']} is not NB_UID {facts['uid']}")
    if fs:
        pairs.append((cfg_uid, cfg_gid, "AppImageConfig"))
    for uid, gid, where in pairs:
        if uid is not None and gid is not None and (uid, gid) not in ALLOWED_IDS[kind]:
            problems.append(f"{where} UID/GID {uid}/{gid} is not accepted by Studio for {kind}")
    if fs.get("MountPath", HOME) != HOME:
        problems.append(f"FileSystemConfig.MountPath is {fs.get('MountPath')!r}, not {HOME}")
    if kind == "kernelgateway":
        names = [k.get("Name") for k in inner.get("KernelSpecs") or []]
        if not names:
            problems.append("KernelSpecs is empty")
        elif facts["kernel"] and facts["kernel"] not in names:
            problems.append(f"Dockerfile kernel {facts['kernel']!r} not in KernelSpecs {names}")
    if problems:
        raise BadInput("image check failed: " + "; ".join(problems))
    return []


# --- registration ---------------------------------------------------------------------------


def _wait(
    fetch: Callable[[], dict[str, Any]],
    key: str,
    ok: str,
    failed: tuple[str, ...],
    what: str,
    timeout: float,
    poll: float,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + timeout
    delay = min(0.2, poll)  # short first waits (usually enough), then every ``poll`` seconds
    while True:
        out = fetch()
        status = out.get(key)
        if progress is not None:
            progress(f"{what}: {status}, {time.monotonic() - started:.0f}s of {timeout:.0f}s")
        if status == ok:
            return out
        if status in failed:
            raise AwsError(f"{what} is {status}: {out.get('FailureReason') or 'no reason given'}")
        if time.monotonic() >= deadline:
            raise AwsError(f"{what} still {status} after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(poll, delay * 2)


def register_image(
    clients: AwsClients,
    *,
    domain: str,
    image_uri: str,
    name: str,
    role_arn: str,
    spec: ImageSpec,
    dry_run: bool = False,
    timeout: float = 600.0,
    poll: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Create-or-reuse the image, a version for ``image_uri``, the AppImageConfig, the domain
    entry. ``progress`` is told each status while it waits (up to ``timeout`` per wait)."""
    v.domain_id(domain)
    v.ecr_image_uri(image_uri)
    v.image_name(name)
    v.role_arn(role_arn)
    spec.app_image_config_name = spec.app_image_config_name or name
    config = render_app_image_config(spec)
    config_name = config["AppImageConfigName"]
    sm = clients.client("sagemaker")
    plan = Plan(dry_run=dry_run, name=name)

    def do(op: str, **params: Any) -> Any:
        step = ApiCall(op, params)
        plan.calls.append(step)
        if dry_run:
            return {}
        step.result = call(sm, op, resource=name, **params)
        step.done = True
        return step.result

    domain_info = call(sm, "DescribeDomain", resource=domain, DomainId=domain)
    # 1. the image
    try:
        image = call(sm, "DescribeImage", resource=name, ImageName=name)
        plan.notes.append(f"image {name} exists ({image.get('ImageStatus')}): reused")
        if image.get("RoleArn") and image["RoleArn"] != role_arn:
            plan.notes.append(f"it keeps its role {image['RoleArn']}")
    except NotFound:
        image = None
        do(
            "CreateImage",
            ImageName=name,
            RoleArn=role_arn,
            DisplayName=name,
            Description=f"smstudio-ext {spec.kind} image",
        )
    if not dry_run:
        image = _wait(
            lambda: call(sm, "DescribeImage", resource=name, ImageName=name),
            "ImageStatus",
            "CREATED",
            ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"),
            f"image {name}",
            timeout,
            poll,
            progress,
        )
        plan.arn = image.get("ImageArn")
    # 2. a version for this URI (reused when it exists)
    version = _find_version(sm, name, image_uri, plan) if image is not None else None
    if version is None:
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"smstudio:{name}:{image_uri}"))
        out = do("CreateImageVersion", ImageName=name, BaseImage=image_uri, ClientToken=token)
        if not dry_run:
            version_arn = out.get("ImageVersionArn", "")
            tail = version_arn.rsplit("/", 1)[-1]
            version = {"Version": int(tail)} if tail.isdigit() else {}
    if not dry_run and version is not None:
        params: dict[str, Any] = {"ImageName": name}
        if version.get("Version") is not None:
            params["Version"] = version["Version"]
        version = _wait(
            lambda: call(sm, "DescribeImageVersion", resource=name, **params),
            "ImageVersionStatus",
            "CREATED",
            ("CREATE_FAILED", "DELETE_FAILED"),
            f"image version of {name}",
            timeout,
            poll,
            progress,
        )
    # 3. the AppImageConfig
    key = CONFIG_KEY[spec.kind]
    try:
        existing = call(
            sm, "DescribeAppImageConfig", resource=config_name, AppImageConfigName=config_name
        )
        if existing.get(key) != config[key]:
            do("UpdateAppImageConfig", AppImageConfigName=config_name, **{key: config[key]})
        else:
            plan.notes.append(f"app image config {config_name} is up to date")
    except NotFound:
        do("CreateAppImageConfig", **config)
    # 4. the domain's CustomImages (other images kept; this one replaced)
    settings_key = SETTINGS_KEY[spec.kind]
    current = dict((domain_info.get("DefaultUserSettings") or {}).get(settings_key) or {})
    images = [dict(i) for i in current.get("CustomImages") or []]
    entry = {"ImageName": name, "AppImageConfigName": config_name}
    others = [i for i in images if i.get("ImageName") != name]
    mine = [i for i in images if i.get("ImageName") == name]
    if mine == [entry]:
        plan.notes.append(f"domain {domain} already lists image {name}")
    else:
        new = {**current, "CustomImages": [*others, entry]}
        do("UpdateDomain", DomainId=domain, DefaultUserSettings={settings_key: new})
    return plan


def _find_version(sm: Any, name: str, image_uri: str, plan: Plan) -> dict[str, Any] | None:
    """The newest usable version of ``name`` whose BaseImage is ``image_uri``, if any."""
    try:
        versions = call(sm, "ListImageVersions", resource=name, ImageName=name).get(
            "ImageVersions", []
        )
    except NotFound:
        return None
    for item in sorted(versions, key=lambda x: x.get("Version", 0), reverse=True):
        if item.get("ImageVersionStatus") not in ("CREATED", "CREATING"):
            continue
        described = call(
            sm, "DescribeImageVersion", resource=name, ImageName=name, Version=item["Version"]
        )
        if described.get("BaseImage") == image_uri:
            plan.notes.append(f"version {described.get('Version')} already has {image_uri}: reused")
            return described
    return None
