#!/usr/bin/env bash
# JupyterLab with the extension against the seeded local AWS emulator (Ctrl-C stops everything).
#   scripts/demo.sh [smstudio demo args...]   e.g. --kind classic --port 8890
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-venv.sh demo
venv="${SMSTUDIO_VENV:-.venv}"
exec "$venv/bin/smstudio" demo "$@"
