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
# Nothing that runs as root may read a user's files: not the Python of `python -m` looking in the
# current directory, not user site-packages (.pth files run code), not ~/.config/pip or
# ~/.gitconfig, not the user's Jupyter config (smstudio_ext reads only the system's with
# SMSTUDIO_SYSTEM_CONFIG_ONLY). Steps that work in the home run as its owner (as_owner).
cd /
if [ "$(id -u)" = 0 ]; then export HOME=/root PYTHONNOUSERSITE=1 SMSTUDIO_SYSTEM_CONFIG_ONLY=1; fi
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
# root writes its logs and downloads there: a folder (or link) someone else made is not used
if [ "$(id -u)" = 0 ] && [ "$(stat -c %u "$STATE_DIR")" != 0 ]; then
  log "ERROR: $STATE_DIR is not root's: nothing done as root"
  FAILED=1
  finish
  exit 0
fi
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

put() { # put FILE: stdin into FILE if the content differs (sudo -n when needed), never through a link
  local f=$1 dir tmp
  if [ -L "$f" ]; then log "not writing $f: it is a symbolic link"; return 1; fi
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

as_owner() { # as_owner CMD...: CMD as the home's owner with HOME=HOME_DIR; root drops privileges
  # setpriv, else runuser, else sudo (docs/lifecycle.md, "Root"); without any: refused, not run as root
  local u g c=$1
  u=$(stat -L -c %u "$HOME_DIR")
  g=$(stat -L -c %g "$HOME_DIR")
  set -- env -u PYTHONNOUSERSITE -u SMSTUDIO_SYSTEM_CONFIG_ONLY "HOME=$HOME_DIR" "$@"
  if [ "$(id -u)" != 0 ] || [ "$u" = 0 ]; then
    "$@"
  elif command -v setpriv >/dev/null; then
    setpriv --reuid="$u" --regid="$g" --clear-groups --no-new-privs "$@"
  elif command -v runuser >/dev/null && id -nu "$u" >/dev/null 2>&1; then
    runuser -u "$(id -nu "$u")" -- "$@"
  elif command -v sudo >/dev/null; then
    sudo -n -E -u "#$u" "$@"
  else
    log "ERROR: no setpriv, runuser or sudo to run $c as the home's owner (uid $u): not run as root"
    return 1
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
