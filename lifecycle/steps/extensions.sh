# --- extra pinned packages and JupyterLab extensions (lifecycle/steps/extensions.sh) ---
step_extensions() { pip_install "${EXTENSIONS[@]}"; }
job_extensions() { # when two foreground pip runs could pass the 5 minutes
  PIP_TIMEOUT=900 step_extensions
  log "extensions take effect when the app restarts"
}
step_extensions_bg() { bg extensions; }
