# --- install the package (lifecycle/steps/install.sh) ---
# Our wheel first, into $STATE_DIR/wheels: the S3 wheel (--wheel), ours and the missing
# dependencies of a wheelhouse (--wheelhouse: `smstudio wheelhouse push` put a copy of our
# wheel at PREFIX/smstudio_ext.whl, whose code reads PREFIX/wheelhouse.json), or
# `pip download` of --pip-spec (the admin's own index); 60 s in all. Then smstudio_ext.lcc_runtime, run from that very wheel (Python imports from a
# zip), installs it without changing any package the image already has, undoes a failed
# install, and reports `pip check` (see the module's docstring).
fetch() { # fetch S3_URI FILE [SECONDS]: boto3 in the target Python, else the AWS CLI; bounded
  if "$PY" -c 'import boto3' 2>/dev/null; then
    bounded "${3:-60}" "$PY" - "$1" "$2" <<'PYEOF'
import sys, boto3
from botocore.config import Config
b, _, k = sys.argv[1][5:].partition("/")
try:
    boto3.client("s3", config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2})).download_file(b, k, sys.argv[2])
except Exception as exc:
    sys.exit("cannot download %s: %s" % (sys.argv[1], exc))
PYEOF
  else
    bounded "${3:-60}" aws s3 cp --only-show-errors --cli-connect-timeout 10 --cli-read-timeout 30 "$1" "$2"
  fi
}
step_install() {
  local d="$STATE_DIR/wheels" w index=()
  rm -rf "$d" "$STATE_DIR/installed"
  mkdir -p "$d"
  if [ -n "$WHEELHOUSE_URI" ]; then
    fetch "$WHEELHOUSE_URI/smstudio_ext.whl" "$STATE_DIR/smstudio_ext.whl" 20
    bounded 40 env PYTHONPATH="$STATE_DIR/smstudio_ext.whl" "$PY" -m smstudio_ext.lcc_runtime \
      fetch-wheelhouse "$WHEELHOUSE_URI" "$d"
  elif [ -n "$WHEEL_URI" ]; then
    fetch "$WHEEL_URI" "$d/$WHEEL_FILE"
  else
    bounded 60 "$PY" -m pip download --disable-pip-version-check --no-input --no-deps -q -d "$d" "$PIP_SPEC"
    index=(--index)
  fi
  w=$(find "$d" -maxdepth 1 -name 'smstudio_ext-*.whl' | sort | tail -n 1)
  if [ -z "$w" ]; then log "no smstudio_ext wheel came with $WHEELHOUSE_URI$WHEEL_URI$PIP_SPEC"; return 1; fi
  bounded $((PIP_TIMEOUT + 25)) env PYTHONPATH="$w" "$PY" -m smstudio_ext.lcc_runtime install \
    --wheel "$w" --find-links "$d" --state "$STATE_DIR" --timeout "$PIP_TIMEOUT" ${index[@]+"${index[@]}"}
  touch "$STATE_DIR/installed"
  "$PY" -c 'import sys, smstudio_ext as m; print("smstudio-lcc installed: smstudio_ext", m.__version__, "in", sys.prefix)'
}
