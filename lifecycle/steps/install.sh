# --- install the package (lifecycle/steps/install.sh) ---
fetch() { # fetch S3_URI FILE: boto3 in the target Python, else the AWS CLI; both bounded
  if "$PY" -c 'import boto3' 2>/dev/null; then
    bounded 60 "$PY" -c 'import sys, boto3; from botocore.config import Config; b, _, k = sys.argv[1][5:].partition("/"); boto3.client("s3", config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2})).download_file(b, k, sys.argv[2])' "$1" "$2"
  else
    bounded 60 aws s3 cp --only-show-errors --cli-connect-timeout 10 --cli-read-timeout 30 "$1" "$2"
  fi
}
step_install() {
  if [ -n "$WHEEL_URI" ]; then
    local w="$STATE_DIR/wheels/$WHEEL_FILE" rc=0
    mkdir -p "$STATE_DIR/wheels"
    fetch "$WHEEL_URI" "$w.part"
    mv -f "$w.part" "$w"
    pip_install --no-index --find-links "$STATE_DIR/wheels" "$w" || rc=$?
    if [ "$rc" != 0 ]; then
      # offline, only zstandard may be missing (backups then use zlib); anything else (a
      # required dependency, a timeout) fails the step with nothing installed
      [ "$rc" != 124 ] && grep -q 'found for zstandard' "$STATE_DIR/pip.out" || return "$rc"
      log "no zstandard here: the wheel alone (--no-deps); backups use zlib"
      "$PY" -c 'import jupyter_server, boto3, psutil, traitlets' && pip_install --no-index --no-deps "$w" || return 1
    fi
  else
    pip_install "$PIP_SPEC"
  fi
  "$PY" -c 'import sys, smstudio_ext as m; print("smstudio-lcc installed: smstudio_ext", m.__version__, "in", sys.prefix)'
}
