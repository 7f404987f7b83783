# --- runtime (lifecycle/common.sh) ---
log() { printf 'smstudio-lcc %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
need_abs() { # need_abs NAME VALUE: a runtime override must be a plain absolute path
  if [[ "$2" != /* || "$2" == *[[:space:]]* || "$2" == *..* ]]; then
    log "ERROR: $1 must be an absolute path without spaces or '..': '$2'"
    exit 2
  fi
}
STATE_DIR=${SMSTUDIO_LCC_STATE_DIR:-/tmp/smstudio-lcc}
need_abs SMSTUDIO_LCC_STATE_DIR "$STATE_DIR"
HOME_DIR=${SMSTUDIO_LCC_HOME:-}
if [ -z "$HOME_DIR" ]; then
  if [ -d /home/sagemaker-user ]; then HOME_DIR=/home/sagemaker-user; else HOME_DIR=$HOME; fi
fi
need_abs SMSTUDIO_LCC_HOME "$HOME_DIR"
PY=${SMSTUDIO_LCC_PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in "${PYTHONS[@]}"; do
    if [ -x "$candidate" ]; then PY=$candidate; break; fi
  done
fi
if [ -z "$PY" ]; then PY=$(command -v python3 || true); fi
FAILED=0
finish() {
  if [ "$FAILED" -eq 0 ]; then log "done"; return 0; fi
  log "done, $FAILED step(s) failed (see above)"
  if [ "$STRICT" = 1 ]; then exit 1; fi
  log "not strict: the app starts anyway"
}
if [ -z "$PY" ] || [ ! -x "$PY" ]; then
  log "ERROR: no Python found (tried ${SMSTUDIO_LCC_PYTHON:-} ${PYTHONS[*]} python3)"
  FAILED=1
  finish
  exit 0
fi
need_abs SMSTUDIO_LCC_PYTHON "$PY"
mkdir -p "$STATE_DIR"
rm -f "$STATE_DIR/changed"
log "start: app $APP_TYPE, features '$FEATURES', python $PY, home $HOME_DIR, uid $(id -u)"

run() { # run NAME: step_NAME in a subshell with errexit; a failure is counted, not fatal
  local rc=0
  log "step $1"
  set +e
  (set -e; "step_$1")
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then log "step $1 FAILED (exit $rc)"; FAILED=$((FAILED + 1)); fi
}

bg() { # bg NAME: job_NAME in the background, immune to hangups, logged; NAME.done when over
  local out="$STATE_DIR/$1.log"
  rm -f "$STATE_DIR/$1.done"
  (
    trap '' HUP
    set +e
    (set -e; "job_$1")
    log "job $1 finished (exit $?)"
    touch "$STATE_DIR/$1.done"
  ) >>"$out" 2>&1 </dev/null &
  log "job $1 started in the background (pid $!, log $out)"
}

put() { # put FILE: stdin into FILE if the content differs (sudo -n when needed)
  local f=$1 dir tmp
  dir=$(dirname "$f")
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
    log "unchanged: $f"
    return 0
  fi
  if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
    cp "$tmp" "$f"
    chmod 644 "$f"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n mkdir -p "$dir"
    sudo -n cp "$tmp" "$f"
    sudo -n chmod 644 "$f"
  else
    rm -f "$tmp"
    log "cannot write $f (no permission, no sudo)"
    return 1
  fi
  rm -f "$tmp"
  touch "$STATE_DIR/changed"
  log "wrote $f"
}

own() { # own PATH...: give files made as root to the home's owner
  if [ "$(id -u)" = 0 ] && [ "$(stat -c %u "$HOME_DIR")" != 0 ]; then
    chown -R --reference="$HOME_DIR" "$@"
  fi
}

bounded() { # bounded SECONDS CMD...: CMD killed after SECONDS (when timeout exists)
  if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi
}

pip_install() { # pip_install ARGS...: into $PY; --user when its site-packages is read-only
  local user=() out="$STATE_DIR/pip.out" rc=0
  if ! "$PY" -c 'import os, sys, sysconfig; sys.exit(not os.access(sysconfig.get_paths()["purelib"], os.W_OK))'; then
    user=(--user)
    log "site-packages of $PY is read-only: pip install --user"
  fi
  bounded "$PIP_TIMEOUT" "$PY" -m pip install --disable-pip-version-check --no-input \
    --progress-bar off ${user[@]+"${user[@]}"} "$@" 2>&1 | tee "$out" | sed '/^Requirement already satisfied/d; s/^/smstudio-lcc pip: /' || rc=$?
  if grep -q '^Successfully installed' "$out"; then touch "$STATE_DIR/changed"; fi
  return "$rc" # pip's status, also where the caller tests it (errexit is off there)
}
