"""The wheel CI builds (`python -m build`, the labextension inside) holds what a space needs."""

from __future__ import annotations

import json
import zipfile

from smstudio_ext._version import __version__


def test_the_built_wheel_has_the_panel_the_enable_file_types_and_license(smd_wheel):
    names = set(zipfile.ZipFile(smd_wheel).namelist())
    data = f"smstudio_ext-{__version__}.data/data"
    lab = f"{data}/share/jupyter/labextensions/smstudio-ext"
    # the prebuilt panel: its package.json, install.json and static assets (remoteEntry, style)
    assert {f"{lab}/package.json", f"{lab}/install.json", f"{lab}/static/style.js"} <= names
    assert any(n.startswith(f"{lab}/static/remoteEntry.") for n in names)
    # the file that enables the server extension wherever the wheel is installed
    enable = f"{data}/etc/jupyter/jupyter_server_config.d/smstudio_ext.json"
    with zipfile.ZipFile(smd_wheel) as z:
        assert json.loads(z.read(enable)) == {
            "ServerApp": {"jpserver_extensions": {"smstudio_ext": True}}
        }
        panel = json.loads(z.read(f"{lab}/package.json"))
        metadata = z.read(f"smstudio_ext-{__version__}.dist-info/METADATA").decode()
    # built for the oldest JupyterLab we support (SMD 2.0.0 ships 4.1.8)
    assert panel["dependencies"]["@jupyterlab/statusbar"] == "^4.1.8"
    # typed package, license, templates and the lifecycle runtime
    assert "smstudio_ext/py.typed" in names
    assert f"smstudio_ext-{__version__}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "smstudio_ext/_templates/lifecycle/steps/server.sh" in names
    assert {"smstudio_ext/lcc_runtime.py", "smstudio_ext/runtime_marker.py"} <= names
