"""The wheelhouse path where the image lacks dependencies: `smstudio wheelhouse build` output,
pushed with `smstudio wheelhouse push` to the emulator's S3, installed offline (no index: the
pip index is a closed port) by the rendered script, dependencies included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from smstudio_ext.admin import wheelhouse
from smstudio_ext.admin.lcc import LccSettings, render
from smstudio_ext.cli import main

from .conftest import BUCKET, PREFIX, push_wheelhouse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lcc_support import Sandbox

pytestmark = pytest.mark.timeout(900)


def test_the_wheelhouse_has_our_wheel_and_its_dependencies_for_the_platform(smd_wheelhouse):
    manifest = json.loads((smd_wheelhouse / wheelhouse.MANIFEST).read_text())
    names = {w["file"].split("-")[0].lower() for w in manifest["wheels"]}
    assert {"smstudio_ext", "jupyter_server", "boto3", "botocore", "psutil", "zstandard"} <= names
    assert manifest["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    for w in manifest["wheels"]:  # binary wheels only, for manylinux x86_64 or pure Python
        assert w["file"].endswith(("-any.whl", "x86_64.whl")), w["file"]
    assert wheelhouse.read_manifest(smd_wheelhouse) == manifest


def test_offline_install_fetches_what_the_image_lacks(tmp_path, aws, clients, smd_wheelhouse):
    # Given an image without psutil and zstandard, and no package index reachable
    box = Sandbox(tmp_path, endpoint=aws.endpoint_url, hide=("psutil", "zstandard"))
    uri = push_wheelhouse(clients, smd_wheelhouse)
    r = render(LccSettings(app_type="KernelGateway", features=[], wheelhouse=uri, strict=True))
    # When the script runs
    out = box.run(r.script, PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_NO_INDEX="")
    # Then ours and the two missing wheels came from S3 and installed without an index
    assert out.returncode == 0, out.stdout + out.stderr
    assert "fetched 3 wheel(s)" in out.stdout, out.stdout
    assert "installed: smstudio_ext" in out.stdout
    found = box.py("import psutil, zstandard, smstudio_ext; print(psutil.__file__)")
    assert found.startswith(str(box.site)), found


def test_push_refuses_a_folder_that_differs_from_its_manifest(
    tmp_path, aws, clients, smd_wheelhouse
):
    folder = tmp_path / "wh"
    folder.mkdir()
    for f in smd_wheelhouse.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    victim = next(folder.glob("psutil-*.whl"))
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(Exception, match="differs from wheelhouse.json"):
        wheelhouse.push(clients, folder, f"s3://{BUCKET}/{PREFIX}")


def test_cli_build_and_push_usage(capsys, aws, tmp_path):
    with pytest.raises(SystemExit):
        main(["wheelhouse", "build", "--python", "3.10", "--out", str(tmp_path)])
    assert "invalid choice: '3.10'" in capsys.readouterr().err
    assert main(["--endpoint-url", aws.endpoint_url, "wheelhouse", "push", str(tmp_path),
                 f"s3://{BUCKET}/x"]) == 2  # fmt: skip
    assert "wheelhouse.json not found" in capsys.readouterr().err
