"""Helpers for builder tests: a shared busybox base for both builders, image comparison."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image


def write_tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    return root


def make_base(rootfs: Path, work: Path) -> tuple[Path, Path]:
    """The busybox rootfs as one image, written as a docker-archive and an OCI layout."""
    context = work / "base-context"
    context.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(rootfs), str(context / "rootfs")], check=True)
    (context / "Dockerfile").write_text('FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n')
    tar, layout = work / "base.tar", work / "base-layout"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=tar,
            oci_layout_path=layout,
            destinations=("imagebuild-test/orchestrator-base:1",),
            created="2020-01-01T00:00:00Z",
        ),
        verbose=False,
    )
    return tar, layout


def file_table(image: Image) -> dict[str, tuple[Any, ...]]:
    return {
        f.path: (
            f.type,
            int(f.mode) & 0o7777,
            f.uid,
            f.gid,
            f.size if f.is_file else 0,
            f.sha256,
            f.linked_to,
        )
        for f in image.walk()
    }


def config_view(image: Image) -> dict[str, Any]:
    return {
        "env": image.env,
        "cmd": image.cmd,
        "entrypoint": image.entrypoint,
        "user": image.user,
        "workdir": image.workdir,
        "labels": image.labels,
        "exposed_ports": image.exposed_ports,
        "volumes": image.volumes,
        "healthcheck": image.healthcheck,
        "stop_signal": image.stop_signal,
        "shell": image.shell,
        "onbuild": image.onbuild,
    }


_SOURCE_HASH = re.compile(r"(file|dir|multi):[0-9a-f]{64}")


def history_view(image: Image) -> list[tuple[str, bool]]:
    """History with COPY/ADD source hashes masked.

    Docker hashes each source's tar header including the owner's user name, which it looks
    up in its own process; whether that lookup succeeds varies between daemon runs, so the
    exact hashes are checked against fixed docker output in the unit tests instead.
    """
    return [
        (_SOURCE_HASH.sub(r"\1:<sha256>", h.created_by), h.empty_layer)
        for h in image.history
        if h.created_by
    ]


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
