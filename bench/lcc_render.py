"""Lifecycle scripts: size/headroom per variant, render time, and a real sandbox run's duration.

Targets (issue 7): base64 content <= 16,384 characters for every variant; the script finishes
well inside Studio's 5 minutes (foreground part). Run: /work/venv/bin/python bench/lcc_render.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lcc_support import build_wheel, make_venv  # noqa: E402

from smstudio_ext.admin.lcc import (  # noqa: E402
    APP_TYPES,
    FEATURES,
    FOREGROUND_BUDGET,
    MAX_BASE64_CHARS,
    LccSettings,
    foreground_budget,
    render,
)

FULL = dict(
    idle_timeout=60, idle_max_timeout=240, backup_bucket="s3://corp-backups/homes",
    kms_key="alias/studio-backups", backup_interval_hours=6, restore=True,
    conda_envs_dir="~/.conda/envs", user_id_tag_key="studiouserid",
    wheel="s3://corp-wheels/smstudio/smstudio_ext-0.1.0-py3-none-any.whl",
    git_user_email="team@example.com", git_name_tag="name",
    git_repos=["https://github.com/corp/ml-examples.git"],
    extensions=["jupyterlab-git==0.50.1"], https_proxy="http://proxy.corp:3128",
    pip_index_url="https://pypi.corp/simple",
)  # fmt: skip


def main() -> None:
    print(
        f"{'app type':14} {'features':9} {'bytes':>6} {'base64':>6} {'headroom':>8} "
        f"{'render ms':>9} {'fg worst s':>10}"
    )
    worst = MAX_BASE64_CHARS
    for app_type in APP_TYPES:
        for label, features in (("minimal", []), ("all", list(FEATURES))):
            # settings of a feature not selected are refused: minimal = the wheel only
            values = FULL if features else {"wheel": FULL["wheel"]}
            t = time.perf_counter()
            for _ in range(20):
                r = render(LccSettings(app_type=app_type, features=features, **values))
            ms = (time.perf_counter() - t) / 20 * 1000
            worst = min(worst, r.headroom)
            print(
                f"{app_type:14} {label:9} {len(r.script.encode()):6} {r.size:6} {r.headroom:8} "
                f"{ms:9.1f} {foreground_budget(r):10}"
            )
    print(f"smallest headroom: {worst} characters (target: >= 0)")
    print(f"foreground worst case: <= {FOREGROUND_BUDGET} s by construction (Studio limit 300 s)")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wheel = build_wheel(root / "w")
        py = make_venv(root / "venv")
        shared = next((Path(sys.prefix) / "lib").glob("python3*/site-packages"))
        next((root / "venv" / "lib").glob("python3*/site-packages")).joinpath("_s.pth").write_text(
            f"{shared}\n"
        )
        (root / "home").mkdir()
        r = render(LccSettings(app_type="JupyterLab", features=["idle", "conda", "git"],
                               idle_timeout=60, pip_spec=str(wheel), git_user_name="Jane Doe"))  # fmt: skip
        (root / "lcc.sh").write_text(r.script)
        env = {"HOME": str(root / "home"), "PATH": "/usr/bin:/bin", "PIP_NO_INDEX": "1",
               "SMSTUDIO_LCC_PYTHON": str(py), "SMSTUDIO_LCC_HOME": str(root / "home"),
               "SMSTUDIO_LCC_STATE_DIR": str(root / "state")}  # fmt: skip
        for run in ("first run (installs)", "second run (no change)"):
            t = time.perf_counter()
            out = subprocess.run(
                ["bash", str(root / "lcc.sh")], env=env, capture_output=True, text=True
            )
            took = time.perf_counter() - t
            print(f"sandbox {run}: {took:.2f} s, exit {out.returncode} (target: well under 300 s)")


if __name__ == "__main__":
    main()
