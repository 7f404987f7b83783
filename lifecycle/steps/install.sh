# --- install the package (lifecycle/steps/install.sh) ---
fetch() { # fetch S3_URI FILE: boto3 in the target Python, else the AWS CLI
  if "$PY" -c 'import boto3' 2>/dev/null; then
    "$PY" -c 'import sys, boto3; b, _, k = sys.argv[1][5:].partition("/"); boto3.client("s3").download_file(b, k, sys.argv[2])' "$1" "$2"
  else
    aws s3 cp --only-show-errors "$1" "$2"
  fi
}
step_install() {
  if [ -n "$WHEEL_URI" ]; then
    mkdir -p "$STATE_DIR/wheels"
    fetch "$WHEEL_URI" "$STATE_DIR/wheels/$WHEEL_FILE.part"
    mv -f "$STATE_DIR/wheels/$WHEEL_FILE.part" "$STATE_DIR/wheels/$WHEEL_FILE"
    pip_install --no-index --find-links "$STATE_DIR/wheels" "$STATE_DIR/wheels/$WHEEL_FILE"
  else
    pip_install "$PIP_SPEC"
  fi
  "$PY" -c 'import sys, smstudio_ext as m; print("smstudio-lcc installed: smstudio_ext", m.__version__, "in", sys.prefix)'
}
