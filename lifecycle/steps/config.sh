# --- server config (lifecycle/steps/config.sh) ---
step_config() { # the admin's choices where this Python's Jupyter server reads them
  local dir=${SMSTUDIO_LCC_CONFIG_DIR:-}
  if [ -z "$dir" ]; then
    dir=$("$PY" -c 'import os, sys; print(os.path.join(sys.prefix, "etc", "jupyter", "jupyter_server_config.d"))')
  fi
  need_abs SMSTUDIO_LCC_CONFIG_DIR "$dir"
  if ! printf '%s\n' "$SERVER_CONFIG" | put "$dir/smstudio.json"; then
    log "falling back to the user's config dir"
    printf '%s\n' "$SERVER_CONFIG" | put "$HOME_DIR/.jupyter/jupyter_server_config.d/smstudio.json"
    own "$HOME_DIR/.jupyter"
  fi
}
