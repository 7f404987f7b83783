# --- persisted conda environments (lifecycle/steps/conda.sh) ---
job_conda_sync() { # .condarc + kernelspecs in the user's Jupyter data dir, as the home's owner
  HOME=$HOME_DIR nohup "$PY" -m smstudio_ext conda sync --user
  for f in "$HOME_DIR/.condarc" "$HOME_DIR/.local/share/jupyter/kernels"; do
    if [ -e "$f" ]; then own "$f"; fi
  done
}
step_conda() { bg conda_sync; }
