# --- persisted conda environments (lifecycle/steps/conda.sh) ---
job_conda_sync() { nohup "$PY" -m smstudio_ext conda sync; }
step_conda() { bg conda_sync; }
