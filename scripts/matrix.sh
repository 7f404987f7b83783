#!/usr/bin/env bash
# The Python matrix beyond the main suite (scripts/test.sh runs everything on 3.11, SMD 2.x's):
#   3.12  SMD 3.x and 4.x: the package with [test] in .venv-3.12, then an import and CLI smoke
#         and a fast subset of the tests (real Jupyter servers included);
#   3.10  the oldest Python found here above the floor, and 3.13 the newest: our wheel with no
#         extras in a fresh venv (dependencies from the package index), then the import and CLI
#         smoke (~2 min each, most of it pip). 3.9, the floor pyproject.toml declares, on demand
#         (SMSTUDIO_MATRIX="3.9"): on this machine pip backtracks for over ten minutes there.
#   scripts/matrix.sh                      # every Python above found on this machine
#   SMSTUDIO_MATRIX="3.12" scripts/matrix.sh
#   SMSTUDIO_MATRIX="" scripts/matrix.sh   # nothing (.ci/run without the matrix)
# A Python is looked for as $SMSTUDIO_PYTHON_3_12 (etc.), then pyenv's, then pythonX.Y on PATH;
# one that is not on this machine is reported and skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
matrix="${SMSTUDIO_MATRIX-3.12 3.10 3.13}"
main_venv="${SMSTUDIO_VENV:-.venv}"

# The fast subset: pure logic, the CLI, the REST API on a real server, each engine's core.
FAST_TESTS=(
  tests/test_units.py tests/test_cli.py tests/test_cli_commands.py tests/test_cli_global.py
  tests/test_cli_same_documents.py tests/test_cli_progress.py tests/test_context.py
  tests/test_fsutil.py tests/test_studio_settings.py tests/test_rest_api_spec.py
  tests/test_server.py tests/test_emulator.py tests/backup/test_backup_units.py
  tests/backup/test_backup_engine.py tests/test_conda_engine.py tests/test_conda_server.py
  tests/test_lcc_render.py tests/test_insights_logic.py tests/test_insights_server.py
  tests/idle/test_idle_policy.py tests/idle/test_idle_server.py
)

find_python() {
  local version="$1" var="SMSTUDIO_PYTHON_${1//./_}" found=""
  if [ -n "${!var:-}" ]; then
    found="${!var}"
  else
    for candidate in /root/.pyenv/versions/"$version".*/bin/python"$version" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version"; do
      [ -x "$candidate" ] && found="$candidate"
    done
    if [ -z "$found" ] && command -v "python$version" >/dev/null 2>&1; then
      found="$(command -v "python$version")"
    fi
  fi
  [ -n "$found" ] && "$found" -c 'import sys' 2>/dev/null && echo "$found"
}

# import + CLI smoke: the extension and every command parse, and a few commands run. Every
# step checks its own exit ("set -e" does not reach into a function called from a condition).
smoke() {
  local python="$1" smstudio="$2" plain="$3"
  "$python" - <<'PY' || return 1
import smstudio_ext, smstudio_ext.app, smstudio_ext.cli
from smstudio_ext.cli import all_parsers, build_parser
points = smstudio_ext._jupyter_server_extension_points()
assert points[0]["app"].name == "smstudio_ext", points
helps = [p.format_help() for p in all_parsers(build_parser())]
assert all("usage: smstudio" in h for h in helps)
print(f"[matrix] import ok: smstudio-ext {smstudio_ext.__version__}, {len(helps)} parsers")
PY
  "$smstudio" --version || return 1
  "$smstudio" plan-subnet --subnets 2 --users 10 --instances-per-user 2 --json >/dev/null || return 1
  "$smstudio" lcc render --app-type JupyterLab --wheelhouse s3://corp-wheels/x -q >/dev/null || return 1
  if [ "$plain" = yes ]; then  # no extras: the demo names the one it needs, exit 6
    local code=0
    "$smstudio" demo >/dev/null 2>&1 || code=$?
    [ "$code" = 6 ] || { echo "[matrix] smstudio demo without its extra exited $code" >&2; return 1; }
  fi
}

wheel_dir="$(mktemp -d)"
trap 'rm -rf "$wheel_dir"' EXIT
own_wheel() {  # our wheel, built once with the main venv (the panel it built is inside)
  if ! ls "$wheel_dir"/smstudio_ext-*.whl >/dev/null 2>&1; then
    "$main_venv/bin/python" -m build --wheel --no-isolation --outdir "$wheel_dir" . \
      >"$wheel_dir/build.log" 2>&1 || { cat "$wheel_dir/build.log" >&2; return 1; }
  fi
}

failed=()
for version in $matrix; do
  python="$(find_python "$version" || true)"
  if [ -z "$python" ]; then
    echo "[matrix] Python $version: not on this machine, SKIPPED"
    continue
  fi
  echo "[matrix] Python $version: $python"
  if [ "$version" = 3.12 ]; then
    venv=".venv-$version"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    stamp="$venv/.smstudio-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
      "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip
      # the panel is built by the main venv's install: no second npm build here
      HATCH_JUPYTER_BUILDER_SKIP_NPM=1 "$venv/bin/python" -m pip install -q \
        --disable-pip-version-check -e ".[test]"
      touch "$stamp"
    fi
    if ! smoke "$venv/bin/python" "$venv/bin/smstudio" no; then
      failed+=("$version smoke")
      continue
    fi
    missing=()
    for t in "${FAST_TESTS[@]}"; do [ -e "$t" ] || missing+=("$t"); done
    if [ "${#missing[@]}" != 0 ]; then  # a moved test file must not shrink the subset silently
      echo "[matrix] FAST_TESTS names missing files: ${missing[*]}" >&2
      failed+=("$version tests (missing files)")
      continue
    fi
    set +e
    PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pytest -n "${SMSTUDIO_TEST_WORKERS:-2}" \
      -p no:cacheprovider -q "${FAST_TESTS[@]}"
    rc=$?
    set -e
    [ "$rc" = 0 ] || failed+=("$version tests (exit $rc)")
  else
    own_wheel || { failed+=("wheel build"); break; }
    venv="$wheel_dir/venv-$version"
    "$python" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel_dir"/smstudio_ext-*.whl; then
      failed+=("$version install")
      continue
    fi
    (cd "$wheel_dir" && smoke "$venv/bin/python" "$venv/bin/smstudio" yes) || failed+=("$version smoke")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "[matrix] FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "[matrix] ok: $matrix"
