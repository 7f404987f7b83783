"""A test-only JupyterLab language pack, built for real: a Python package registered under the
`jupyterlab.languagepack` entry point (as jupyterlab-language-pack-fr-FR is) with a catalogue for
this extension's domain, `locale/<lang>/LC_MESSAGES/smstudio_ext.json`.

jupyterlab_server finds language packs through that entry point (`translation_utils.
_get_installed_language_pack_locales`) and serves every `<domain>.json` in the pack at
`GET /lab/api/translations/<lang>`; JupyterLab's TranslationManager then loads the domain
`smstudio_ext` (the package name `smstudio-ext` with `-` → `_`) for `trans.__`. The pack is put on
the demo server's PYTHONPATH (a `.dist-info` next to the package makes the entry point visible to
importlib.metadata), so nothing is installed into the venv.
"""

from __future__ import annotations

import json
from pathlib import Path

LANGUAGE = "fr_FR"
MODULE = "smstudio_test_language_pack_fr_FR"

#: msgid → the French the browser test expects to see.
CATALOGUE = {
    "SageMaker Studio panel": "Panneau SageMaker Studio",
    "This app": "Cette application",
    "Auto-shutdown": "Arrêt automatique",
    "Cost": "Coût",
    "Tags": "Étiquettes",
    "Guardrails": "Garde-fous",
    "Backup": "Sauvegarde",
    "Conda": "Conda",
    "Refresh %1": "Actualiser %1",
}


def build(root: Path) -> Path:
    """Write the pack under `root` (a PYTHONPATH entry); returns `root`."""
    package = root / MODULE
    messages = package / "locale" / LANGUAGE / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Test language pack (fr_FR) for smstudio-ext."""\n')
    catalogue: dict[str, object] = {
        "": {
            "domain": "smstudio_ext",
            # BCP 47: JupyterLab's Gettext files the messages under this header and looks
            # them up under the page's locale with `_` → `-` (fr-FR, then fr)
            "language": LANGUAGE.replace("_", "-"),
            "plural_forms": "nplurals=2; plural=(n > 1);",
            "version": "0.1.0",
        }
    }
    catalogue.update({msgid: [text] for msgid, text in CATALOGUE.items()})
    (messages / "smstudio_ext.json").write_text(json.dumps(catalogue, ensure_ascii=False))
    dist = root / f"{MODULE}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {MODULE.replace('_', '-')}\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[jupyterlab.languagepack]\n{LANGUAGE} = {MODULE}\n")
    return root
