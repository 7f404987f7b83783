# --- persisted conda environments (lifecycle/steps/conda.sh) ---
job_conda_sync() { # .condarc + kernelspecs in the user's Jupyter data dir, as the home's owner
  as_owner nohup "$PY" -m smstudio_ext conda sync --user
}
step_conda() { bg conda_sync; }
