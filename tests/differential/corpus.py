"""The differential corpus on disk: case directories, their ``case.toml`` and contexts.

Each case is ``cases/<name>/`` (docker parity) or ``buildkit_cases/<name>/`` (expected tree):
a ``Dockerfile``, context files, an optional ``.dockerignore`` and an optional ``case.toml``:

    build_args = {A = "1"}       # passed to both builders (BASE is always passed)
    target = "middle"            # --target
    base = "busybox"             # or "debian"; the BASE build arg points at it
    http = true                  # HTTP build arg: URL of a loopback server for the case's http/
    secrets = {token = "secret.txt"}   # --secret id=token,src=<context>/secret.txt (executor)
    dirs = ["empty"]             # empty directories (git keeps none)
    [modes]                      # octal permission bits applied to context paths
    "run.sh" = "0755"
    [symlinks]                   # context path -> link target
    "dir/link" = "target.txt"
    [hardlinks]                  # context path -> existing context path
    "b.txt" = "a.txt"
    [xattrs]                     # extended attributes, values as hex
    "tool" = {"user.note" = "68656c6c6f"}
    [[archives]]                 # tarballs made from a case directory (left out of the context)
    name = "pkg.tar.gz"
    source = "pkg"
    compression = "gz"           # "", "gz", "bz2" or "xz"
    owner = "33:33"              # uid:gid of every member (default 0:0)

Git keeps neither modes beyond the executable bit, nor empty directories, nor reliable
hardlinks, so ``materialize`` writes them into a fresh copy that both builders then read.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PARITY_DIR = HERE / "cases"
BUILDKIT_DIR = HERE / "buildkit_cases"
META_FILES = frozenset({"case.toml", "expected.json"})
# Fixed mtime for generated archive members and context files: builds are comparable
# whatever the checkout time (mtimes are not compared, but ADD keeps archive mtimes).
FIXED_MTIME = 1_600_000_000


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    base: str = "busybox"
    http: bool = False
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"


def load_case(path: Path) -> Case:
    settings: dict[str, Any] = {}
    toml = path / "case.toml"
    if toml.exists():
        settings = tomllib.loads(toml.read_text())
    return Case(
        name=path.name,
        path=path,
        build_args={str(k): str(v) for k, v in settings.get("build_args", {}).items()},
        target=settings.get("target"),
        base=settings.get("base", "busybox"),
        http=bool(settings.get("http", False)),
        secrets=dict(settings.get("secrets", {})),
        settings=settings,
    )


def case_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if (p / "Dockerfile").is_file())


def materialize(case: Case, dest: Path) -> Path:
    """Write the build context of ``case`` to ``dest`` (which must not exist)."""
    archive_sources = {a["source"] for a in case.settings.get("archives", [])}
    skip = {*META_FILES, *archive_sources, "http"}
    shutil.copytree(
        case.path,
        dest,
        symlinks=True,
        ignore=lambda d, names: [n for n in names if Path(d) == case.path and n in skip],
    )
    for name in case.settings.get("dirs", []):
        (dest / name).mkdir(parents=True, exist_ok=True)
    for name, target in case.settings.get("symlinks", {}).items():
        link = dest / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
    for name, existing in case.settings.get("hardlinks", {}).items():
        os.link(dest / existing, dest / name)
    for spec in case.settings.get("archives", []):
        _archive(case.path / spec["source"], dest / spec["name"], spec)
    _normalize_modes(dest)
    for name, mode in case.settings.get("modes", {}).items():
        os.chmod(dest / name, int(mode, 8), follow_symlinks=False)
    for name, attrs in case.settings.get("xattrs", {}).items():
        for key, value in attrs.items():
            os.setxattr(dest / name, key, bytes.fromhex(value), follow_symlinks=False)
    return dest


def _normalize_modes(root: Path) -> None:
    """0644 files / 0755 executables and dirs, fixed mtimes: checkout umask does not leak."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o100 else 0o644)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def _archive(source: Path, dest: Path, spec: dict[str, Any]) -> None:
    compression = spec.get("compression", "")
    uid, gid = (int(x) for x in spec.get("owner", "0:0").split(":"))
    modes = {k: int(v, 8) for k, v in spec.get("modes", {}).items()}
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(dest, mode, format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for path in sorted([source, *source.rglob("*")]):
            rel = path.relative_to(source).as_posix()
            if rel == ".":
                continue
            info = tar.gettarinfo(path, arcname=rel)
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            info.mtime = FIXED_MTIME
            if info.isdir():
                info.mode = 0o755
            elif info.isreg():
                info.mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
            info.mode = modes.get(rel, info.mode)
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
        for name, target in spec.get("symlinks", {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            info.uid, info.gid, info.mtime, info.mode = uid, gid, FIXED_MTIME, 0o777
            tar.addfile(info)
        for name, target in spec.get("hardlinks", {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            info.uid, info.gid, info.mtime, info.mode = uid, gid, FIXED_MTIME, 0o644
            tar.addfile(info)
