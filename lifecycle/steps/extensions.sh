# --- extra pinned packages and JupyterLab extensions (lifecycle/steps/extensions.sh) ---
step_extensions() { pip_install "${EXTENSIONS[@]}"; }
