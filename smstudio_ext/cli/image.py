"""``smstudio image dockerfile|app-image-config|check|register``: custom Studio images."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..admin import images, lcc
from ..errors import BadInput
from ..fsutil import MB, ReadRefused, read_capped, read_capped_text
from .common import SECONDS, Env, examples, make_dir, note, print_json, show_help
from .lcc import SERVER_FLAGS, _print_plan, add_server_flags
from .progress import Progress


def _spec_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kind",
        choices=images.KINDS,
        required=True,
        help="the app the image serves (kernelgateway: Studio Classic, legacy)",
    )
    p.add_argument("--uid", type=int, default=1000, help="image user UID (Studio: 1000)")
    p.add_argument("--gid", type=int, default=100, help="image user GID (Studio: 100)")
    p.add_argument(
        "--kernel-name", default="smstudio-python3", help="kernelspec name (kernelgateway)"
    )
    p.add_argument("--display-name", default="Python 3 (smstudio)", help="kernel display name")


def _our_wheel(args: argparse.Namespace) -> str | None:
    """Our wheel's file name: ``--wheel FILE``, or the one a ``--wheelhouse DIR`` names."""
    if getattr(args, "wheelhouse", None):
        from ..admin.wheelhouse import read_manifest

        return str(read_manifest(Path(args.wheelhouse))["smstudio_ext"]["file"])
    return Path(args.wheel).name if getattr(args, "wheel", None) else None


def _spec(args: argparse.Namespace) -> images.ImageSpec:
    return images.ImageSpec(
        kind=args.kind,
        base=getattr(args, "base", None) or images.DEFAULT_BASE,
        python=getattr(args, "python", None) or images.DEFAULT_PYTHON,
        uid=args.uid,
        gid=args.gid,
        pip_spec=getattr(args, "pip_spec", None),
        wheel=_our_wheel(args),
        wheelhouse=bool(getattr(args, "wheelhouse", None)),
        conda_env=bool(getattr(args, "with_conda_env", None)),
        kernel_name=args.kernel_name,
        display_name=args.display_name,
        app_image_config_name=getattr(args, "app_image_config_name", None)
        or getattr(args, "name", None),
    )


def _server_config(args: argparse.Namespace) -> dict[str, Any]:
    """The extension config a JupyterLab image bakes in (same choices as an LCC)."""
    overrides = {dest: getattr(args, dest, None) for _, dest, _, _ in SERVER_FLAGS}
    features = [
        f
        for f, keys in (
            ("idle", ("idle_timeout", "idle_max_timeout")),
            ("backup", ("backup_bucket",)),
            ("conda", ("conda_envs_dir",)),
            ("insights", ("user_id_tag_key",)),
        )
        if any(overrides.get(k) is not None for k in keys)
    ]
    settings = lcc.LccSettings(app_type="JupyterLab", features=features).merged(overrides)
    return lcc.server_config(lcc.check_settings(settings))


def dockerfile_cmd(args: argparse.Namespace) -> int:
    spec = _spec(args)
    if args.with_conda_env and not Path(args.with_conda_env).is_file():
        raise BadInput(f"conda environment file not found: {args.with_conda_env}")
    if args.wheel and not Path(args.wheel).is_file():
        raise BadInput(f"wheel not found: {args.wheel}")
    if args.wheelhouse and not args.out_dir:
        raise BadInput(
            "--wheelhouse DIR needs --out-dir: the wheelhouse goes into the build context"
        )
    text = images.render_dockerfile(spec)
    config = images.render_app_image_config(spec)
    images.check_pair(spec.kind, text, config)
    if not args.out_dir:
        if args.json:
            print_json({"dockerfile": text, "app_image_config": config, "out_dir": None})
            return 0
        sys.stdout.write(text)
        needs = [lcc.EXTENSION_CONFIG_FILE] if spec.kind == "jupyterlab" else []
        needs += [spec.wheel] if args.wheel and spec.wheel else []
        if needs:
            note(
                args, f"note: the build context also needs {' and '.join(needs)}: use --out-dir DIR"
            )
        return 0
    make_dir(args.out_dir)
    out = Path(args.out_dir)
    (out / "Dockerfile").write_text(text, encoding="utf-8")
    (out / "app-image-config.json").write_text(json.dumps(config, indent=2) + "\n")
    written = ["Dockerfile", "app-image-config.json"]
    if spec.kind == "jupyterlab":
        name = lcc.EXTENSION_CONFIG_FILE
        (out / name).write_text(json.dumps(_server_config(args), indent=2) + "\n")
        written.append(name)
    if args.with_conda_env:
        shutil.copyfile(args.with_conda_env, out / "environment.yml")
        written.append("environment.yml")
    if args.wheel:
        shutil.copyfile(args.wheel, out / Path(args.wheel).name)
        written.append(Path(args.wheel).name)
    if args.wheelhouse:
        target = out / images.WHEELHOUSE_DIR
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.wheelhouse, target)
        written.append(f"{images.WHEELHOUSE_DIR}/")
    if args.json:
        print_json(
            {"dockerfile": text, "app_image_config": config, "out_dir": str(out), "files": written}
        )
        return 0
    note(args, f"wrote {', '.join(written)} in {out}")
    note(args, f"build: docker build --platform linux/amd64 -t IMAGE {out}")
    return 0


def app_image_config_cmd(args: argparse.Namespace) -> int:
    print_json(images.render_app_image_config(_spec(args)))
    return 0


def check_cmd(args: argparse.Namespace) -> int:
    try:
        text = read_capped_text(args.dockerfile, 1 * MB, what="a Dockerfile")
        config = json.loads(read_capped(args.app_image_config, 1 * MB, what="an AppImageConfig"))
    except FileNotFoundError as exc:
        raise BadInput(f"file not found: {exc.filename}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{args.app_image_config}: not valid JSON: {exc}") from None
    except ReadRefused as exc:
        raise BadInput(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the Dockerfile or the AppImageConfig: {exc}") from None
    images.check_pair(args.kind, text, config)
    if args.json:
        print_json({"ok": True, "kind": args.kind})
    elif not args.quiet:
        print("ok: Dockerfile and AppImageConfig agree (UID/GID, user, kernel, mount path)")
    return 0


def register_cmd(args: argparse.Namespace) -> int:
    with Progress(args) as progress:  # up to --timeout waiting for CREATED
        plan = images.register_image(
            Env(args).aws,
            domain=args.domain,
            image_uri=args.image_uri,
            name=args.name,
            role_arn=args.role_arn,
            spec=_spec(args),
            dry_run=args.dry_run,
            timeout=args.timeout,
            progress=progress,
        )
    _print_plan(plan, args, label="image")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "image",
        help="custom Studio images with smstudio-ext baked in",
        epilog=examples(
            "smstudio image dockerfile --kind jupyterlab --out-dir build/",
            "smstudio image register --domain d-abc123 --kind jupyterlab --image-uri "
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/studio:1 --name studio-smstudio "
            "--role-arn arn:aws:iam::111122223333:role/SageMakerImages",
        ),
    )
    isub = p.add_subparsers(dest="image_command", metavar="ACTION")

    d = isub.add_parser(
        "dockerfile",
        help="print (or write with --out-dir) a Dockerfile",
        epilog=examples(
            "smstudio image dockerfile --kind jupyterlab --out-dir build/ --idle-timeout 1h",
            "smstudio image dockerfile --kind kernelgateway --with-conda-env environment.yml",
        ),
    )
    _spec_flags(d)
    d.add_argument("--base", help=f"base image (default {images.DEFAULT_BASE})")
    d.add_argument("--python", help=f"the image's Python (default {images.DEFAULT_PYTHON})")
    d.add_argument("--with-conda-env", metavar="FILE", help="environment.yml merged into base")
    src = d.add_mutually_exclusive_group()
    src.add_argument(
        "--wheel",
        metavar="FILE",
        help="install our wheel (copied into --out-dir); the base must have its dependencies",
    )
    src.add_argument(
        "--wheelhouse",
        metavar="DIR",
        help="install from a wheelhouse (`smstudio wheelhouse build`; copied into --out-dir): "
        "our wheel and the dependencies the base lacks, offline",
    )
    src.add_argument(
        "--pip-spec",
        help="opt-in: pip download this requirement from the builder's own package index "
        "(pip settings of the build); one of the three is required",
    )
    d.add_argument("--out-dir", metavar="DIR", help="write the whole build context here")
    add_server_flags(d)
    d.set_defaults(func=dockerfile_cmd)

    a = isub.add_parser(
        "app-image-config",
        help="print the matching AppImageConfig JSON",
        epilog=examples("smstudio image app-image-config --kind jupyterlab --name my-image"),
    )
    _spec_flags(a)
    a.add_argument("--name", help="AppImageConfigName (default smstudio-<kind>)")
    a.set_defaults(func=app_image_config_cmd)

    c = isub.add_parser(
        "check",
        help="check a Dockerfile against an AppImageConfig",
        epilog=examples(
            "smstudio image check --kind jupyterlab --dockerfile build/Dockerfile "
            "--app-image-config build/app-image-config.json"
        ),
    )
    c.add_argument(
        "--kind",
        choices=images.KINDS,
        required=True,
        help="jupyterlab, or kernelgateway (Studio Classic, legacy)",
    )
    c.add_argument("--dockerfile", required=True, metavar="FILE")
    c.add_argument("--app-image-config", required=True, metavar="FILE")
    c.set_defaults(func=check_cmd)

    r = isub.add_parser(
        "register",
        help="create-or-reuse image, version, config; attach to domain",
        description="Creates (or reuses) the SageMaker image, a version for --image-uri and "
        "the AppImageConfig, waits until they are CREATED (up to --timeout; progress on "
        "stderr, none with -q), and attaches the image to the domain, keeping its other images.",
        epilog=examples(
            "smstudio image register --domain d-abc123 --kind jupyterlab --image-uri "
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/studio:1 --name studio-smstudio "
            "--role-arn arn:aws:iam::111122223333:role/SageMakerImages --timeout 15m",
            "smstudio image register ... --dry-run --json",
        ),
    )
    _spec_flags(r)
    r.add_argument("--domain", required=True, help="domain id (d-…)")
    r.add_argument("--image-uri", required=True, help="ECR URI of the pushed image")
    r.add_argument("--name", required=True, help="SageMaker image name")
    r.add_argument("--role-arn", required=True, help="role SageMaker uses to pull the image")
    r.add_argument("--app-image-config-name", help="default: the image name")
    r.add_argument(
        "--timeout",
        type=SECONDS,
        default=600.0,
        help="how long to wait for CREATED: 15m, 90s or seconds (default 10m)",
    )
    r.add_argument("--dry-run", action="store_true", help="print the API calls, change nothing")
    r.set_defaults(func=register_cmd)
    p.set_defaults(func=show_help(p))
