"""The home-copy plan of a domain move: a shell script that copies every re-created owner's home
to the new domain, EFS to EFS (``chown`` to the new UID) or, for EBS homes and on request,
through S3 as smstudio home-backup snapshots (``domain.backup_folder``). Every value pasted into
the script is validated and quoted."""

from __future__ import annotations

import re
import shlex
from typing import Any

from ..errors import BadInput
from .domain import DOMAIN_RE, FOLDER_RE, NAME_RE, UID_RE


def _q(value: Any) -> str:
    return shlex.quote(str(value))


def _comment(value: str) -> str:
    """Text safe inside a '#' comment line: no line breaks or control characters."""
    return re.sub(r"[^\x20-\x7e]", "?", value)


def copy_plan_script(
    uid_map: dict[str, Any], source: str = "", target: str = "", *, via: str = "efs"
) -> str:
    """The copy plan: a bash script with two steps, ``efs`` and ``s3``.

    ``efs OLD_MOUNT NEW_MOUNT`` (as root on a host mounting both volumes) copies the homes that
    live on the domain's EFS volume, ``OLD/<old uid>`` to ``NEW/<new uid>``, then ``chown``.
    ``s3 s3://BUCKET[/PREFIX]`` copies the smstudio home-backup folder of each other home,
    ``<old domain>/<folder>/`` to ``<new domain>/<folder>/`` (``backup_folder``: a profile's
    name, ``<owner>/spaces/<space>`` or ``_shared/<space>``): JupyterLab and Code Editor spaces
    (their home is the space's own EBS volume, which no EFS copy reaches) always; every home
    with ``via="s3"``. The new app then restores the snapshot on its first start."""
    if via not in ("efs", "s3"):
        raise BadInput(f"--via must be 'efs' or 's3', got {via!r}")
    efs_rows: list[str] = []
    s3_rows: list[str] = []
    for kind in ("profiles", "spaces"):
        for name, entry in sorted(uid_map.get(kind, {}).items()):
            label = f"{kind[:-1]} {name}"
            if not NAME_RE.match(name):
                raise BadInput(f"{label}: not a Studio name")
            if via == "s3" or entry.get("home") == "ebs":
                why = "its home is on EBS" if entry.get("home") == "ebs" else "--via s3"
                folder = str(entry.get("folder") or name)
                if not FOLDER_RE.match(folder):
                    raise BadInput(f"{label}: not a backup folder: {folder!r}")
                s3_rows.append(f"copy_snapshots {_q(label)} {_q(folder)}  # {why}")
                efs_rows.append(f"# {label}: moves through S3 ({why}): see the s3 step")
                continue
            old, new = entry.get("old_uid"), entry.get("new_uid")
            if not old or not new:
                efs_rows.append(f"# {label}: no EFS home to copy (old {old}, new {new})")
                continue
            if not (UID_RE.match(str(old)) and UID_RE.match(str(new))):
                raise BadInput(f"{label}: UIDs must be numbers ({old!r}, {new!r})")
            efs_rows.append(f"copy_home {_q(label)} {_q(old)} {_q(new)}")
    old_domain = source if DOMAIN_RE.match(source or "") else ""
    new_domain = target if DOMAIN_RE.match(target or "") else ""
    efs_count = sum(1 for r in efs_rows if r.startswith("copy_home"))
    lines = [
        "#!/usr/bin/env bash",
        "# Copy plan written by `smstudio domain import`: moves every Studio home from the old",
        f"# domain ({_comment(source) or 'unknown'}) to the new one "
        f"({_comment(target) or 'unknown'}).",
        "#",
        "# Homes on the domain's EFS volume (user profiles, Studio Classic spaces), as root on a",
        "# host that mounts both volumes:",
        "#   copy-homes.sh efs OLD_EFS_MOUNT NEW_EFS_MOUNT",
        "# Homes that move through S3 (JupyterLab and Code Editor spaces: their home is the",
        "# space's own EBS volume, not the EFS one; every home with --via s3):",
        "#   1. in each old app: smstudio backup          (a last snapshot)",
        "#   2. copy-homes.sh s3 s3://BUCKET[/PREFIX]     (HomeBackup.bucket; needs the aws CLI)",
        "#   3. the new app restores it on its first start (our lifecycle config runs",
        '#      `smstudio restore latest --target "$HOME" --if-empty`), or run that in its',
        "#      terminal.",
        "# Re-running either step is safe (rsync / cp -a and aws s3 sync overwrite with the same).",
        "set -euo pipefail",
        "",
        f"old_domain={_q(old_domain)}",
        f"new_domain={_q(new_domain)}",
        "",
        "usage() {",
        '  echo "usage: $0 efs OLD_EFS_MOUNT NEW_EFS_MOUNT | $0 s3 s3://BUCKET[/PREFIX]" >&2',
        "  exit 2",
        "}",
        "",
        "copy_home() {",
        '  local name="$1" old_uid="$2" new_uid="$3"',
        '  local src="$old_root/$old_uid" dst="$new_root/$new_uid"',
        '  if [ ! -d "$src" ]; then',
        '    echo "skip $name: no home at $src" >&2',
        "    return 0",
        "  fi",
        '  echo "copy $name: $src -> $dst"',
        '  mkdir -p "$dst"',
        "  if command -v rsync >/dev/null 2>&1; then",
        '    rsync -a "$src/" "$dst/"',
        "  else",
        '    cp -a "$src/." "$dst/"',
        "  fi",
        '  chown -R --from="$old_uid" "$new_uid" "$dst"',
        '  chown "$new_uid" "$dst"',
        "}",
        "",
        "copy_snapshots() {",
        '  local name="$1" folder="$2"',
        '  local src="$base/$old_domain/$folder/" dst="$base/$new_domain/$folder/"',
        '  echo "copy $name snapshots: $src -> $dst"',
        '  aws s3 sync --only-show-errors "$src" "$dst"',
        "}",
        "",
        'case "${1:-}" in',
        "  efs)",
        '    if [ "$#" -ne 3 ]; then usage; fi',
        '    old_root="$2"',
        '    new_root="$3"',
        '    for root in "$old_root" "$new_root"; do',
        '      if [ ! -d "$root" ]; then',
        '        echo "not a directory: $root" >&2',
        "        exit 2",
        "      fi",
        "    done",
        *(f"    {row}" for row in efs_rows),
        f'    echo "done: {efs_count} EFS home(s)"',
        "    ;;",
        "  s3)",
        '    if [ "$#" -ne 2 ]; then usage; fi',
        '    case "$2" in',
        "      s3://?*) ;;",
        '      *) echo "not an s3:// URL: $2" >&2; exit 2 ;;',
        "    esac",
        '    base="${2%/}"',
        '    if [ -z "$old_domain" ] || [ -z "$new_domain" ]; then',
        '      echo "the manifest names no source or target domain id: cannot find the '
        'snapshot folders" >&2',
        "      exit 2",
        "    fi",
        "    if ! command -v aws >/dev/null 2>&1; then",
        '      echo "the aws CLI is needed for the s3 step" >&2',
        "      exit 2",
        "    fi",
        *(f"    {row}" for row in s3_rows),
        f'    echo "done: {len(s3_rows)} home(s) through S3"',
        "    ;;",
        "  *) usage ;;",
        "esac",
        "",
    ]
    return "\n".join(lines)
