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
