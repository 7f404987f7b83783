# --- restart the Classic Jupyter server when something changed (lifecycle/steps/restart.sh) ---
job_restart() { sleep 5; nohup restart-jupyter-server; }
step_restart() {
  if [ ! -f "$STATE_DIR/changed" ]; then log "nothing changed: no restart"; return 0; fi
  if ! command -v restart-jupyter-server >/dev/null 2>&1; then
    log "restart-jupyter-server not found: restart the app to load the changes"
    return 0
  fi
  bg restart
}
