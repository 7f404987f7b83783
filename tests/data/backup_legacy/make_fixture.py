"""Write this fixture with the code of the first chunker (commit 8ced0bd, before FastCDC).

    git worktree add /tmp/old 8ced0bd
    PYTHONPATH=/tmp/old .venv/bin/python tests/data/backup_legacy/make_fixture.py

Backs up ``legacy_home()`` (tests/backup_legacy_home.py) twice (the second after an edit, so
the newest snapshot has a parent) to a moto S3 server, then copies every object of the
repository but the locks into ``objects/`` (the key below the repository root as the path).
The large file is cut by that chunker into three chunks; everything compresses, so the
fixture stays a few KB.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/

from backup_legacy_home import BUCKET, edit_legacy_home, legacy_home  # noqa: E402


def main() -> None:
    from moto.server import ThreadedMotoServer

    from smstudio_ext.aws import AwsClients
    from smstudio_ext.backup import chunker
    from smstudio_ext.backup.config import HomeBackup
    from smstudio_ext.backup.engine import BackupService
    from smstudio_ext.context import load_context

    assert hasattr(chunker, "PATTERN"), "run with the old code on PYTHONPATH"
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    server = ThreadedMotoServer(port=0)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    work = tempfile.mkdtemp()
    try:
        home = os.path.join(work, "home")
        legacy_home(home, chunker)
        clients = AwsClients("us-east-1", endpoint_urls={"s3": endpoint}, validate=False)
        clients.client("s3").create_bucket(Bucket=BUCKET)
        config = HomeBackup(
            bucket=f"s3://{BUCKET}/legacy", state_dir=os.path.join(work, "state"), racy_seconds=0
        )
        context = load_context(os.path.join(work, "none.json"), home=home)
        svc = BackupService(config, context, clients, home=home)
        svc.backup()
        edit_legacy_home(home)
        svc.backup()
        store = svc.store()
        out = os.path.join(HERE, "objects")
        shutil.rmtree(out, ignore_errors=True)
        for obj in store.list(""):
            rel = obj["Key"][len(store.loc.root) :]
            if rel.startswith("locks/"):
                continue
            path = os.path.join(out, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(store.get(obj["Key"]))
            print(rel, obj["Size"])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
