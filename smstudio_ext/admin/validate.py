"""Validators for every admin value that ends up in a generated script, Dockerfile or API call.

Two layers keep a generated lifecycle script safe: each value must match a conservative rule
here (no whitespace, quotes, ``$``, backticks, ``;``, newlines or other shell syntax unless the
rule says so), and the generator still shell-quotes it with :func:`sh_quote`. A refused value
raises :class:`BadInput` naming the setting, the value (``repr``, so a newline shows) and the rule.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from ..errors import BadInput

# Characters that never appear in a valid value of any kind below.
_FORBIDDEN = re.compile(r"[\s'\"`$;&|\\<>(){}*?!#~^]")


def refuse(what: str, value: object, rule: str) -> BadInput:
    return BadInput(f"invalid {what} {value!r}: {rule}", setting=what)


def _match(what: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise refuse(what, value, rule)
    return value


def sh_quote(value: str) -> str:
    """Quote one value for bash (single quotes; an empty string becomes ``''``)."""
    return shlex.quote(value)


def sh_array(values: Iterable[str]) -> str:
    """A bash array literal ``(a 'b c')`` of quoted values."""
    return "(" + " ".join(shlex.quote(v) for v in values) + ")"


# --- names ---------------------------------------------------------------------------------
_SM_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_IMAGE_NAME = re.compile(r"[a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}")
_DOMAIN_ID = re.compile(r"d-[a-z0-9]{12}")


def sm_name(value: object, what: str = "name") -> str:
    """A SageMaker resource name (LCC, profile, space, app image config)."""
    return _match(
        what, value, _SM_NAME, "letters, digits and single hyphens, 1-63 chars, no leading hyphen"
    )


def image_name(value: object, what: str = "image name") -> str:
    return _match(what, value, _IMAGE_NAME, "letters, digits, '-' or '.', 1-63 chars")


def domain_id(value: object, what: str = "domain id") -> str:
    return _match(what, value, _DOMAIN_ID, "'d-' followed by 12 lowercase letters or digits")


# --- S3, KMS, tags, IAM ----------------------------------------------------------------------
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_KEY = re.compile(r"[A-Za-z0-9._/=+@,:-]+")


def s3_uri(value: object, what: str = "S3 URI", *, key_required: bool = False) -> tuple[str, str]:
    """``s3://bucket[/key]`` → ``(bucket, key)``; a bare bucket name is accepted too."""
    if not isinstance(value, str):
        raise refuse(what, value, "expected s3://bucket[/prefix]")
    rest = value[5:] if value.startswith("s3://") else value
    bucket, _, key = rest.partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise refuse(
            what, value, "bucket must be 3-63 lowercase letters, digits, '.' or '-' (s3://bucket/…)"
        )
    if key and (not _S3_KEY.fullmatch(key) or ".." in key.split("/") or "//" in key):
        raise refuse(what, value, "key may hold only letters, digits and . _ / = + @ , : -")
    if key_required and not key.strip("/"):
        raise refuse(what, value, "an object key is required (s3://bucket/path/file)")
    return bucket, key


def wheel_s3_uri(value: object, what: str = "wheel") -> tuple[str, str, str]:
    """An S3 URI of a wheel file → ``(bucket, key, file name)``."""
    bucket, key = s3_uri(value, what, key_required=True)
    filename = key.rsplit("/", 1)[-1]
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+-[A-Za-z0-9_.+!-]+(-[A-Za-z0-9_.]+){2,3}\.whl", filename):
        raise refuse(what, value, "must name a wheel file (…/name-version-py3-none-any.whl)")
    return bucket, key, filename


_KMS_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
)
_KMS_ALIAS = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
_KMS_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]{1,250})"
)


def kms_key(value: object, what: str = "KMS key") -> str:
    if isinstance(value, str) and (
        _KMS_ID.fullmatch(value) or _KMS_ALIAS.fullmatch(value) or _KMS_ARN.fullmatch(value)
    ):
        if not value.startswith("alias/aws/"):
            return value
    raise refuse(
        what,
        value,
        "expected a key id (uuid or mrk-…), alias/NAME or a kms key/alias ARN "
        "(not an AWS-managed alias/aws/…)",
    )


_TAG_KEY = re.compile(r"[A-Za-z0-9_.:/=+@-]{1,128}")


def tag_key(value: object, what: str = "tag key") -> str:
    _match(what, value, _TAG_KEY, "1-128 letters, digits or _ . : / = + @ - (no spaces)")
    assert isinstance(value, str)
    if value.lower().startswith("aws:"):
        raise refuse(what, value, "the 'aws:' prefix is reserved")
    return value


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")


def role_arn(value: object, what: str = "role ARN") -> str:
    return _match(what, value, _ROLE_ARN, "expected arn:aws:iam::ACCOUNT:role/NAME")


# --- paths, pip, git, URLs -------------------------------------------------------------------
_ABS_PATH = re.compile(r"/[A-Za-z0-9._/+@=,-]*")


def abs_path(value: object, what: str = "path", *, allow_home: bool = False) -> str:
    """An absolute path of plain characters (``~/…`` too when ``allow_home``), no ``..``."""
    ok = isinstance(value, str) and (
        _ABS_PATH.fullmatch(value)
        or (allow_home and value.startswith("~/") and _ABS_PATH.fullmatch(value[1:]))
    )
    if not ok or ".." in str(value).split("/"):
        rule = "an absolute path" + (" (or ~/…)" if allow_home else "")
        raise refuse(what, value, rule + " of letters, digits and . _ / + @ = , - without '..'")
    return str(value)


_PKG = r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = r"(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"
_VERSION = r"[A-Za-z0-9.*+!_-]+"
_PIP_SPEC = re.compile(
    rf"{_PKG}{_EXTRAS}((==|>=|<=|~=|!=|<|>){_VERSION}(,(==|>=|<=|~=|!=|<|>){_VERSION})*)?"
)
_PINNED = re.compile(rf"{_PKG}{_EXTRAS}==[A-Za-z0-9.+!_-]+")
_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%/+=@,:-]*)?")


def pip_spec(value: object, what: str = "pip spec") -> str:
    """A requirement (``name[extra]>=1,<2``), an https URL or an absolute path to a wheel/dir."""
    if isinstance(value, str) and (
        _PIP_SPEC.fullmatch(value)
        or (_HTTPS_URL.fullmatch(value) and value.endswith((".whl", ".tar.gz", ".zip")))
        or (value.startswith("/") and _ABS_PATH.fullmatch(value) and ".." not in value.split("/"))
    ):
        return value
    raise refuse(
        what,
        value,
        "expected NAME[extras] with optional version bounds (e.g. smstudio-ext>=0.1,<1), "
        "an https:// URL of a wheel or an absolute path; no spaces or shell characters",
    )


def pinned_pip_spec(value: object, what: str = "extension") -> str:
    return _match(what, value, _PINNED, "a pinned requirement NAME[extras]==VERSION")


_GIT_URL = re.compile(
    r"(https://[A-Za-z0-9.-]+(:\d{1,5})?/[A-Za-z0-9._~/-]+"
    r"|ssh://([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:\d{1,5})?/[A-Za-z0-9._~/-]+"
    r"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~][A-Za-z0-9._~/-]*)"
)


def git_url(value: object, what: str = "git repository") -> str:
    """https://, ssh:// or scp-like git@host:path; no credentials, no local/ext transports."""
    return _match(
        what,
        value,
        _GIT_URL,
        "expected https://host/path, ssh://host/path or git@host:path (no credentials, spaces or "
        "shell characters)",
    )


def repo_dir(url: str) -> str:
    """The folder a clone of ``url`` lands in (like ``git clone`` picks it)."""
    base = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if base.endswith(".git"):
        base = base[:-4]
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", base):
        raise refuse("git repository", url, "its last path part must be a plain folder name")
    return base


def http_url(value: object, what: str = "URL") -> str:
    """An http(s) URL without credentials (they would be readable in the LCC)."""
    return _match(
        what,
        value,
        re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%/+=,:-]*)?"),
        "expected http(s)://host[:port][/path] without user:password or shell characters",
    )


def host(value: object, what: str = "host") -> str:
    return _match(what, value, re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?"), "a host name[:port]")


def no_proxy(value: object, what: str = "no_proxy") -> str:
    return _match(
        what,
        value,
        re.compile(r"[A-Za-z0-9.*/:-]+(,[A-Za-z0-9.*/:-]+)*"),
        "comma-separated hosts, .domains or CIDRs, no spaces",
    )


_PERSON = re.compile(r"[^\W\d_]([\w.,-]| (?! ))*", re.UNICODE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def person_name(value: object, what: str = "git user name") -> str:
    if isinstance(value, str) and len(value) <= 100 and _PERSON.fullmatch(value.strip()):
        if value == value.strip():
            return value
    raise refuse(what, value, "letters, digits, single spaces and . , - only (no quotes)")


def email(value: object, what: str = "git user email") -> str:
    return _match(what, value, _EMAIL, "a plain address like name@example.com")


def int_range(value: object, what: str, low: int, high: int) -> int:
    try:
        number = int(str(value), 10)
    except (TypeError, ValueError):
        raise refuse(what, value, f"an integer from {low} to {high}") from None
    if not low <= number <= high or isinstance(value, bool):
        raise refuse(what, value, f"an integer from {low} to {high}")
    return number


_IMAGE_REF = re.compile(
    r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)+"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?"
    r"|[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?"
)
_ECR_URI = re.compile(
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9]([a-z0-9._/-]*[a-z0-9])?"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})?"
)


def image_ref(value: object, what: str = "base image") -> str:
    return _match(what, value, _IMAGE_REF, "a container image reference like registry/repo:tag")


def ecr_image_uri(value: object, what: str = "image URI") -> str:
    return _match(
        what,
        value,
        _ECR_URI,
        "an ECR image URI ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG|@sha256:DIGEST]",
    )


def kernel_name(value: object, what: str = "kernel name") -> str:
    return _match(
        what, value, re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"), "letters, digits, . _ -"
    )


def display_name(value: object, what: str = "display name") -> str:
    return _match(
        what,
        value,
        re.compile(r"[A-Za-z0-9]([A-Za-z0-9 ._()+-]{0,62}[A-Za-z0-9)])?"),
        "letters, digits, spaces and . _ ( ) + - (no quotes)",
    )


def safe_text(value: object, what: str) -> str:
    """Generic plain value: no whitespace or shell characters at all."""
    if not isinstance(value, str) or not value or _FORBIDDEN.search(value) or len(value) > 256:
        raise refuse(what, value, "plain text without spaces, quotes or shell characters")
    return value
