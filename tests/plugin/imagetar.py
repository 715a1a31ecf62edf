"""Write small docker-archive tarballs (``docker save`` layout) for tests.

A layer is a list of entries; an image is a list of layers plus config values::

    write_image(path, [[dir_("etc"), file_("etc/hostname", b"box\\n")]],
                env={"PATH": "/bin"}, created_by=["ADD rootfs /"])
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Entry",
    "dir_",
    "file_",
    "symlink",
    "whiteout",
    "write_image",
    "write_multiplatform",
    "write_sample",
]


@dataclass(frozen=True)
class Entry:
    path: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""


def file_(
    path: str, data: bytes | str = b"", *, mode: int = 0o644, uid: int = 0, gid: int = 0
) -> Entry:
    raw = data.encode() if isinstance(data, str) else data
    return Entry(path, tarfile.REGTYPE, raw, mode, uid, gid)


def dir_(path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, tarfile.DIRTYPE, b"", mode, uid, gid)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, tarfile.SYMTYPE, b"", 0o777, 0, 0, target)


def whiteout(path: str) -> Entry:
    """An entry that deletes ``path`` in the layers below."""
    parent, _, name = path.rpartition("/")
    return file_(f"{parent}/.wh.{name}" if parent else f".wh.{name}")


def _layer_bytes(entries: Sequence[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.type = entry.type
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.mtime = 1_700_000_000
            info.linkname = entry.linkname
            info.size = len(entry.data) if entry.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(entry.data) if info.size else None)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def write_image(
    path: Path,
    layers: Sequence[Sequence[Entry]],
    *,
    env: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    user: str = "",
    workdir: str = "",
    created_by: Sequence[str] | None = None,
    empty_history: Sequence[str] = (),
    architecture: str = "amd64",
    repo_tags: Sequence[str] = ("imagebuild-test/sample:1",),
) -> Path:
    """Write a docker-archive tarball at ``path`` and return ``path``.

    ``created_by`` gives one history line per layer (default ``ADD layer<N> /``);
    ``empty_history`` adds lines for instructions without a layer (``ENV``, ``USER``).
    """
    blobs = [_layer_bytes(entries) for entries in layers]
    diff_ids = ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs]
    lines = (
        list(created_by)
        if created_by is not None
        else [f"ADD layer{index} /" for index in range(len(blobs))]
    )
    if len(lines) != len(blobs):
        raise ValueError("created_by needs one line per layer")
    container_config: dict[str, object] = {
        "Env": [f"{key}={value}" for key, value in (env or {}).items()],
        "User": user,
        "WorkingDir": workdir,
    }
    if entrypoint is not None:
        container_config["Entrypoint"] = list(entrypoint)
    if cmd is not None:
        container_config["Cmd"] = list(cmd)
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": line} for line in lines]
        + [
            {"created": "2024-01-01T00:00:00Z", "created_by": line, "empty_layer": True}
            for line in empty_history
        ],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [f"{diff_id[7:]}/layer.tar" for diff_id in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": list(repo_tags), "Layers": layer_names}]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in zip(layer_names, blobs, strict=True):
            _add(tar, name, blob)
        _add(tar, config_name, config_bytes)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return path


PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\n"


def write_sample(path: Path, *, architecture: str = "amd64") -> Path:
    """A three-layer image used across the plugin tests.

    layer 0 ``ADD rootfs /``: /bin/sh, /etc/{passwd,group,hostname}, /usr/bin/ping (0o755)
    layer 1 ``RUN chmod u+s /usr/bin/ping && echo token > /tmp/secret``
    layer 2 ``RUN rm /tmp/secret && mkdir /home/app``: /home/app/config.ini owned by app
    """
    base = [
        dir_("bin"),
        file_("bin/sh", "#!busybox\n", mode=0o755),
        dir_("etc"),
        file_("etc/passwd", PASSWD),
        file_("etc/group", GROUP),
        file_("etc/hostname", "sample\n"),
        dir_("usr"),
        dir_("usr/bin"),
        file_("usr/bin/ping", "ping\n", mode=0o755),
        symlink("usr/bin/sh", "/bin/sh"),
    ]
    setuid = [
        file_("usr/bin/ping", "ping\n", mode=0o4755),
        dir_("tmp", mode=0o1777),
        file_("tmp/secret", "token\n", mode=0o600),
    ]
    app = [
        whiteout("tmp/secret"),
        dir_("home"),
        dir_("home/app", uid=1000, gid=1000),
        file_("home/app/config.ini", "[server]\nport = 8080\n", uid=1000, gid=1000),
    ]
    return write_image(
        path,
        [base, setuid, app],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        entrypoint=["/bin/sh", "-c"],
        cmd=["echo hello"],
        user="app",
        workdir="/home/app",
        created_by=[
            "ADD rootfs /",
            "RUN chmod u+s /usr/bin/ping && echo token > /tmp/secret",
            "RUN rm /tmp/secret && mkdir /home/app",
        ],
        empty_history=["ENV PATH=/usr/bin:/bin LANG=C.UTF-8", "USER app"],
        architecture=architecture,
    )


def _blob(blobs: dict[str, bytes], data: bytes, media_type: str) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def write_multiplatform(path: Path, architectures: Sequence[str]) -> Path:
    """An OCI archive whose index holds one linux image per architecture; each image has
    /etc/arch holding its architecture."""
    oci = "application/vnd.oci.image."
    blobs: dict[str, bytes] = {}
    manifests = []
    for arch in architectures:
        layer = _layer_bytes([dir_("etc"), file_("etc/arch", arch)])
        layer_descriptor = _blob(blobs, layer, oci + "layer.v1.tar")
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [f"ARCH={arch}"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_descriptor["digest"]]},
            "history": [{"created_by": f"ADD {arch} /"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": oci + "manifest.v1+json",
            "config": _blob(blobs, json.dumps(config).encode(), oci + "config.v1+json"),
            "layers": [layer_descriptor],
        }
        descriptor = _blob(blobs, json.dumps(manifest).encode(), oci + "manifest.v1+json")
        descriptor["platform"] = {"architecture": arch, "os": "linux"}
        manifests.append(descriptor)
    index = {"schemaVersion": 2, "mediaType": oci + "index.v1+json", "manifests": manifests}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            _add(tar, "blobs/sha256/" + digest[7:], data)
    return path
