# --- server config (lifecycle/steps/config.sh) ---
config_dir() { # CONFIG_DIR: the target Python's Jupyter config dir (or SMSTUDIO_LCC_CONFIG_DIR)
  CONFIG_DIR=${SMSTUDIO_LCC_CONFIG_DIR:-}
  if [ -z "$CONFIG_DIR" ]; then
    CONFIG_DIR=$("$PY" -c 'import os, sys; print(os.path.join(sys.prefix, "etc", "jupyter"))')
  fi
  need_abs SMSTUDIO_LCC_CONFIG_DIR "$CONFIG_DIR"
}
step_config() { # enable the extension, and the admin's choices where it reads them
  config_dir
  if ! write_config "$CONFIG_DIR"; then
    # root never writes into the user's home (a link there could aim anywhere)
    if [ "$(id -u)" = 0 ]; then return 1; fi
    log "falling back to the user's config dir"
    write_config "$HOME_DIR/.jupyter"
  fi
}
write_config() { # write_config DIR: the two files in one Jupyter config dir
  printf '%s\n' '{"ServerApp": {"jpserver_extensions": {"smstudio_ext": true}}}' |
    put "$1/jupyter_server_config.d/smstudio.json"
  printf '%s\n' "$EXT_CONFIG" | put "$1/jupyter_smstudio_ext_config.json"
}
