# --- load the installed version into the Jupyter server (lifecycle/steps/server.sh) ---
# SageMaker Distribution starts the server with the container (supervisord), so it usually runs
# before this script has installed anything: restart it (restart-jupyter-server) unless it
# already runs this version, and wait for it in the foreground with what is left of the
# budget. No server yet: a background job watches for one starting (one that started before
# the install gets restarted; one that starts after it loads the extension by itself).
RESTART_WAIT=${SMSTUDIO_LCC_RESTART_WAIT:-120}
if [[ ! "$RESTART_WAIT" =~ ^[0-9]{1,4}$ ]]; then RESTART_WAIT=120; fi
reload() { # reload ARGS...: smstudio_ext.lcc_runtime reload (lines in our log format)
  config_dir
  as_owner "$PY" -m smstudio_ext.lcc_runtime reload \
    --disable-file "$CONFIG_DIR/jupyter_server_config.d/smstudio_ext.json" "$@"
}
job_server() { reload --wait-for-server 60 --budget "$RESTART_WAIT"; }
step_server() {
  local rc=0 left=$((BUDGET - SECONDS - 10))
  if [ ! -f "$STATE_DIR/installed" ]; then
    log "smstudio_ext was not installed by this run: the Jupyter server is left as it is"
    return 0
  fi
  if [ "$left" -lt 20 ]; then bg server; return 0; fi
  reload --budget $((left < RESTART_WAIT ? left : RESTART_WAIT)) || rc=$?
  if [ "$rc" = 4 ]; then bg server; return 0; fi
  return "$rc"
}
