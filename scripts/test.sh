#!/usr/bin/env bash
# The whole test suite, setting up what it needs: the venv with .[test], the built panel,
# Debian's chromium for the browser tests (when root), then lint, the TS unit tests, pytest and
# the Python matrix (scripts/matrix.sh: 3.12 = SMD 3.x/4.x, the plain wheel on 3.10 and 3.13;
# Pythons not on the machine are reported and skipped; SMSTUDIO_MATRIX="" skips it).
#   scripts/test.sh [pytest args...]      # with pytest args (a subset): no matrix
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-venv.sh test
venv="${SMSTUDIO_VENV:-.venv}"
export PATH="$PWD/$venv/bin:$PATH"

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] apt-get install chromium (browser tests)"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || echo "[setup] could not install chromium: browser tests will be skipped" >&2
fi

echo "[lint] ruff"
ruff check smstudio_ext tests bench
ruff format --check smstudio_ext tests bench
echo "[lint] mypy"
mypy smstudio_ext

if [ -f labextension/package.json ] && grep -q '"test"' labextension/package.json && [ -d labextension/node_modules ]; then
  echo "[test] labextension unit tests"
  (cd labextension && npm run -s lint:ci && npm test --silent)
fi

if [ -d labextension/node_modules ] && command -v npm >/dev/null 2>&1; then
  echo "[test] the panel compiles against JupyterLab 4.1.8 (SMD 2.0.0)"
  scripts/check-oldest-jupyterlab.sh
fi

echo "[test] pytest"
set +e
python -m pytest -n "${SMSTUDIO_TEST_WORKERS:-2}" -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" != 0 ] || [ "$#" != 0 ]; then
  exit "$rc"
fi
exec scripts/matrix.sh
