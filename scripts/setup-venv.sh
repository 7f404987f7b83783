#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv and install the package with the given extras.
#   scripts/setup-venv.sh test|demo|dev
# Env: SMSTUDIO_VENV (default .venv). The first install builds the JupyterLab extension with npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-test}"
venv="${SMSTUDIO_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.smstudio-installed-$extras"
# The build hooks skip the panel when a build exists, and npm keeps node_modules: a build whose
# dependencies differ from labextension/package.json (its ranges end up in the bundle's
# metadata), or node_modules older than the lockfile, is stale, so drop it.
if [ -d labextension/node_modules ] && [ labextension/package-lock.json -nt labextension/node_modules/.package-lock.json ]; then
  echo "[setup] labextension/node_modules is older than the lockfile: reinstalling it"
  rm -rf labextension/node_modules smstudio_ext/labextension
fi
if [ -f smstudio_ext/labextension/package.json ] && ! python3 - <<'PY'
import json, sys
src = json.load(open("labextension/package.json"))
built = json.load(open("smstudio_ext/labextension/package.json"))
sys.exit(src.get("dependencies") != built.get("dependencies") or src.get("version") != built.get("version"))
PY
then
  echo "[setup] the built panel does not match labextension/package.json: rebuilding it"
  rm -rf smstudio_ext/labextension
fi
if [ ! -f smstudio_ext/labextension/package.json ]; then rm -f "$stamp"; fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ labextension/package.json -nt "$stamp" ]; then
  echo "[setup] installing smstudio-ext[$extras] into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
  # An editable install leaves the built panel in the source tree: link it into the venv's
  # labextensions folder so JupyterLab loads it (what a wheel install does by copying).
  if [ -d smstudio_ext/labextension ] && [ -x "$venv/bin/jupyter-labextension" ]; then
    PATH="$PWD/$venv/bin:$PATH" "$venv/bin/jupyter-labextension" develop --overwrite . >/dev/null
  fi
  touch "$stamp"
fi
