# --- restart the Classic Jupyter server when something changed (lifecycle/steps/restart.sh) ---
RESTART_DELAY=${SMSTUDIO_LCC_RESTART_DELAY:-5}
if [[ ! "$RESTART_DELAY" =~ ^[0-9]{1,3}$ ]]; then RESTART_DELAY=5; fi
job_restart() { sleep "$RESTART_DELAY"; nohup restart-jupyter-server; }
step_restart() {
  if [ ! -f "$STATE_DIR/changed" ]; then log "nothing changed: no restart"; return 0; fi
  if ! command -v restart-jupyter-server >/dev/null 2>&1; then
    log "restart-jupyter-server not found: restart the app to load the changes"
    return 0
  fi
  bg restart
}
