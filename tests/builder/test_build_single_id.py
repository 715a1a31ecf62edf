"""Builds as an unprivileged user without /etc/subuid ranges: the single-id user namespace.

Only uid 0 exists there. RUN as root works; owners the namespace cannot give (a base layer's
uid 1000 files, COPY --chown) reach the layers through the owner record (builder/fs/owners.py),
so the image equals the same build made by real root. A step that needs another id fails with
the remedy.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import file_table
from tests.builder.container_support import (
    CI_USER,
    run_python,
    seccomp_without_userns,
    skeleton_image,
)
from tests.builder.rootless import SINGLE_USER, User, chown_tree, ensure_user, remove_as, run_as
from tests.builder.rootless import user_dir as make_user_dir
from tests.support.baseimages import FIXED_MTIME, tar_tree
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.rootless

DOCKERFILE = """\
FROM oci:{base} AS other
RUN touch /home/app/sub/new && chmod 4750 /home/app/sub/tool

FROM oci:{base}
RUN echo hi > /made && chmod 0600 /made && mkdir -p /opt/x && touch /opt/x/y && id -u > /whoami
RUN test -c /dev/null && echo gone > /dev/null && head -c 3 /dev/zero | wc -c > /zeros
RUN echo more >> /home/app/data.txt && touch /home/app/sub/new
COPY --chown=1000:1000 f /home/app/f
COPY --chown=1000:1000 d /home/app/d
COPY --chown=2000:3000 f /f2
RUN chmod 0640 /home/app/f && cat /home/app/data.txt > /copy-of-data
COPY --from=other /home/app/sub /copied
"""

BUILD = """
    import json
    from pathlib import Path
    from pytest_imagebuild.builder.build import build
    from pytest_imagebuild.builder.options import BuildOptions
    from pytest_imagebuild.builder import sandbox
    from pytest_imagebuild.errors import ImageBuildError
    result = {{"mode": sandbox.probe().describe()}}
    try:
        build(BuildOptions(context={context!r}, dockerfile={dockerfile!r}, no_push=True,
                           tar_path=Path({out!r}), build_root=Path({build_root!r}),
                           cache_dir=Path({build_root!r}) / "cache"),
              verbose=False)
        result["ok"] = True
    except ImageBuildError as exc:
        result.update(ok=False, error=str(exc), type=type(exc).__name__)
    print(json.dumps(result))
"""


def _base_layout(busybox_rootfs: Path, work: Path) -> Path:
    """The busybox tree plus files, a directory and a setuid file owned by uid 1000, built by
    root as an OCI layout (``ADD`` of a tarball keeps the owners)."""
    root = work / "rootfs"
    work.mkdir()
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(root)], check=True)
    app = root / "home" / "app"
    (app / "sub").mkdir()
    (app / "data.txt").write_text("base\n")
    (app / "sub" / "tool").write_text("#!/bin/sh\n")
    (app / "sub" / "link").symlink_to("tool")
    for path, mode in ((app / "data.txt", 0o640), (app / "sub", 0o750), (app / "sub/tool", 0o755)):
        os.chmod(path, mode)
        os.chown(path, 1000, 1000)
    context = work / "ctx"
    context.mkdir()
    tar_tree(root, context / "rootfs.tar", mtime=FIXED_MTIME)
    (context / "Dockerfile").write_text('FROM scratch\nADD rootfs.tar /\nCMD ["sh"]\n')
    layout = work / "layout"
    options = BuildOptions(context=str(context), no_push=True, oci_layout_path=layout)
    build(options, verbose=False)
    return layout


@pytest.fixture(scope="module")
def user() -> User:
    return ensure_user(SINGLE_USER, subids=False)


@pytest.fixture(scope="module")
def work(user: User, busybox_rootfs: Path) -> Iterator[Path]:
    """A directory the single-id user owns: the base layout and the build context."""
    path = make_user_dir(user)
    try:
        layout = _base_layout(busybox_rootfs, path / "base-src")
        context = path / "ctx"
        (context / "d" / "deeper").mkdir(parents=True)
        (context / "f").write_text("f\n")
        (context / "d" / "deeper" / "g").write_text("g\n")
        (context / "Dockerfile").write_text(DOCKERFILE.format(base=layout))
        chown_tree(path, user)
        yield path
    finally:
        remove_as(user, path)


def build_as(user: User, work: Path, name: str, dockerfile: str) -> tuple[dict[str, Any], Path]:
    """Build ``dockerfile`` (text) as ``user``; the result and the tarball's path."""
    (work / "ctx" / name).write_text(dockerfile)
    os.chown(work / "ctx" / name, user.uid, user.gid)
    out = work / f"{name}.tar"
    code = BUILD.format(
        context=str(work / "ctx"),
        dockerfile=str(work / "ctx" / name),
        out=str(out),
        build_root=str(work / "build"),
    )
    return run_as(user, code, work, timeout=300), out


def layer_table(image: Image) -> list[dict[str, tuple[Any, ...]]]:
    """Per layer: path -> (type, mode, uid, gid, size, content hash, link target)."""
    return [
        {
            e.path: (e.type, int(e.mode) & 0o7777, e.uid, e.gid, e.size, e.sha256, e.linked_to)
            for e in image.layer_files(index)
        }
        for index in range(len(image.layers))
    ]


def test_single_id_build_equals_the_root_build(user: User, work: Path, tmp_path: Path) -> None:
    result, out = build_as(user, work, "Dockerfile", (work / "ctx" / "Dockerfile").read_text())
    assert result["ok"] is True, result
    assert result["mode"].startswith(f"single-id user namespace (0 -> {user.uid}, no other ids)")
    reference = tmp_path / "root.tar"
    build(
        BuildOptions(context=str(work / "ctx"), no_push=True, tar_path=reference),
        verbose=False,
    )
    with Image.open(out) as single, Image.open(reference) as rooted:
        assert file_table(single) == file_table(rooted)
        assert layer_table(single) == layer_table(rooted)
        made = single.file("/made")
        assert (made.uid, made.gid, int(made.mode) & 0o7777) == (0, 0, 0o600)
        assert single.file("/whoami").read_text() == "0\n"
        assert single.file("/copy-of-data").read_text() == "base\nmore\n"
        tool, new = single.file("/copied/tool"), single.file("/copied/new")
        # COPY --from keeps the owners of the source stage: uid 1000 from the base layer
        assert (tool.uid, tool.gid, int(tool.mode) & 0o7777) == (1000, 1000, 0o4750)
        assert (new.uid, new.gid) == (0, 0)
    with Image.open(out) as single:
        layers = layer_table(single)
        assert len(layers) == 9
        changed = layers[3]  # the RUN that appended to the base's uid 1000 file
        assert changed["/home/app/data.txt"][2:4] == (1000, 1000)
        assert changed["/home/app/sub"][1:4] == (0o750, 1000, 1000)  # a parent, not touched
        copied = layers[4]
        assert copied["/home/app/f"][2:4] == (1000, 1000)
        for path in ("/home/app/d", "/home/app/d/deeper/g"):
            assert layers[5][path][2:4] == (1000, 1000)
        assert layers[6]["/f2"][2:4] == (2000, 3000)


def test_a_step_as_another_user_names_the_missing_range(user: User, work: Path) -> None:
    dockerfile = "FROM oci:{base}\nRUN echo fine > /ok\nUSER app\nRUN id\n"
    base = str(work / "base-src" / "layout")
    result, out = build_as(user, work, "Dockerfile.user", dockerfile.format(base=base))
    assert result["ok"] is False, result
    error = result["error"]
    assert "Dockerfile.user:4" in error
    assert "cannot run as user 1000:1000" in error
    assert f"no /etc/subuid range for user {user.name}" in error
    assert f"usermod --add-subuids 200000-265535 --add-subgids 200000-265535 {user.name}" in error
    assert "or run the build as root" in error
    assert not out.exists()


def test_chown_in_run_fails_with_the_reason(user: User, work: Path) -> None:
    dockerfile = "FROM oci:{base}\nRUN touch /x && chown 1000:1000 /x\n"
    base = str(work / "base-src" / "layout")
    result, out = build_as(user, work, "Dockerfile.chown", dockerfile.format(base=base))
    assert result["ok"] is False, result
    error = result["error"]
    assert "Dockerfile.chown:2" in error
    assert "Invalid argument" in error
    assert "single-id user namespace" in error
    assert "usermod --add-subuids" in error
    assert not out.exists()


RUN_COMMANDS = """
    import json
    from pathlib import Path
    from pytest_imagebuild.errors import SandboxError
    from pytest_imagebuild.image import Image
    from pytest_imagebuild.plugin.runner import SandboxRunner
    result = {{}}
    with Image.open({tarball!r}) as image:
        image.runner = SandboxRunner(Path({cache!r}))
        done = image.run("id -u; cat /home/app/data.txt; echo w > /tmp/w; cat /tmp/w", user="0",
                         stdin="unused")
        result["root"] = [done.exit_code, done.stdout_text, done.stderr_text]
        again = image.run(["cat", "/tmp/w"], user="0")  # a fresh view each time
        result["again"] = [again.exit_code, again.stderr_text.strip()]
        try:
            image.run(["id", "-u"], user="app")
        except SandboxError as exc:
            result["app"] = str(exc)
    print(json.dumps(result))
"""


def test_image_run_as_root_in_the_single_id_namespace(user: User, work: Path) -> None:
    result, out = build_as(
        user, work, "Dockerfile.run", "FROM oci:{}\n".format(work / "base-src" / "layout")
    )
    assert result["ok"] is True, result
    code = RUN_COMMANDS.format(tarball=str(out), cache=str(work / "build" / "run-cache"))
    found = run_as(user, code, work, timeout=120)
    assert found["root"] == [0, "0\nbase\nw\n", ""]
    assert found["again"] == [1, "cat: can't open '/tmp/w': No such file or directory"]
    assert "cannot run as user 1000:1000" in found["app"]
    assert "usermod --add-subuids" in found["app"]


def _container_context(work: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The main Dockerfile with its base at /base, and an output directory anyone writes."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    context = tmp_path / "ctx"
    subprocess.run(["cp", "-r", str(work / "ctx"), str(context)], check=True)
    (context / "Dockerfile").write_text(DOCKERFILE.format(base="/base"))
    base = tmp_path / "base"
    subprocess.run(["cp", "-r", str(work / "base-src" / "layout"), str(base)], check=True)
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)  # blobs are 0600
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out_dir.chmod(0o777)  # the container's non-root user writes the tarball
    return context, out_dir


def _build_in_container(
    docker_daemon: DockerDaemon, work: Path, tmp_path: Path, user: str, opts: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    context, out_dir = _container_context(work, tmp_path)
    done = run_python(
        docker_daemon, skeleton_image(docker_daemon, tmp_path),
        ["-m", "pytest_imagebuild", "--context", "/ctx", "--dockerfile", "/ctx/Dockerfile",
         "--no-push", "--tar-path", "/out/image.tar", "--verbosity", "info"],
        user=user, security_opts=opts,
        volumes={context: "/ctx:ro", context.parent / "base": "/base:ro", out_dir: "/out"},
    )  # fmt: skip
    return done, out_dir / "image.tar"


def _root_build(work: Path, tmp_path: Path) -> Path:
    reference = tmp_path / "root.tar"
    options = BuildOptions(context=str(work / "ctx"), no_push=True, tar_path=reference)
    build(options, verbose=False)
    return reference


RUN_IN_CONTAINER = (
    "import json; from pathlib import Path; from pytest_imagebuild.image import Image\n"
    "from pytest_imagebuild.plugin.runner import SandboxRunner\n"
    "with Image.open('/out/image.tar') as image:\n"
    "    image.runner = SandboxRunner(Path('/tmp/run-cache'))\n"
    "    r = image.run('id -u; cat /zeros; test -c /dev/null && echo dev; echo err >&2; "
    "cat /home/app/data.txt', user='0')\n"
    "    print(json.dumps([r.exit_code, r.stdout_text, r.stderr_text]))\n"
)


@pytest.mark.docker
def test_single_id_build_in_a_container_as_non_root(
    docker_daemon: DockerDaemon, work: Path, tmp_path: Path
) -> None:
    """``--user 1001`` with no /etc/subuid in the container: under docker's default seccomp
    profile user namespaces are refused (and the error says so); with it lifted, the build
    runs in the single-id user namespace (chroot mode: docker's masked /proc keeps a fresh
    one from mounting) and equals the build by root on the host, and ``image.run`` as root
    works there too."""
    refused, tarball = _build_in_container(docker_daemon, work, tmp_path / "a", CI_USER, ())
    stderr = refused.stderr.decode()
    assert refused.returncode == 1, stderr
    assert "cannot create a user namespace" in stderr
    assert "--security-opt seccomp=unconfined" in stderr
    assert not tarball.exists()
    unconfined = ("seccomp=unconfined", "apparmor=unconfined")
    done, tarball = _build_in_container(docker_daemon, work, tmp_path / "b", CI_USER, unconfined)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "sandbox: single-id user namespace (0 -> 1001, no other ids)" in stderr
    with Image.open(tarball) as inside, Image.open(_root_build(work, tmp_path)) as rooted:
        assert file_table(inside) == file_table(rooted)
        assert layer_table(inside) == layer_table(rooted)
    ran = run_python(
        docker_daemon, skeleton_image(docker_daemon, tmp_path), ["-c", RUN_IN_CONTAINER],
        user=CI_USER, security_opts=unconfined, volumes={tarball.parent: "/out:ro"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr.decode()
    assert json.loads(ran.stdout.decode()) == [0, "0\n3\ndev\nbase\nmore\n", "err\n"]


READ_TARBALL = (
    "import json; from pytest_imagebuild.image import Image\n"
    "with Image.open('/out/image.tar') as image:\n"
    "    f = image.file('/home/app/f')\n"
    "    z = image.file('/zeros').read_text()\n"
    "    print(json.dumps([f.uid, f.gid, f.read_text(), z, len(image.layers)]))\n"
)


@pytest.mark.docker
def test_container_without_user_namespaces(
    docker_daemon: DockerDaemon, work: Path, tmp_path: Path
) -> None:
    """A seccomp profile that refuses only user namespaces: root builds in the chroot mode
    (same image as on the host); a non-root user gets the reason and the remedy, and can
    still open and read the tarball."""
    profile = seccomp_without_userns(tmp_path)
    opts = (f"seccomp={profile}",)
    done, tarball = _build_in_container(docker_daemon, work, tmp_path / "root", "0:0", opts)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "sandbox: root, no user namespace, chroot only, no /proc" in stderr
    with Image.open(tarball) as inside, Image.open(_root_build(work, tmp_path)) as rooted:
        assert file_table(inside) == file_table(rooted)
    refused, missing = _build_in_container(docker_daemon, work, tmp_path / "user", CI_USER, opts)
    stderr = refused.stderr.decode()
    assert refused.returncode == 1, stderr
    assert stderr.startswith("imagebuild: error: cannot create a user namespace"), stderr
    assert "seccomp filter" in stderr
    assert "as root in the container for the chroot-only mode" in stderr
    assert not missing.exists()
    read = run_python(
        docker_daemon, skeleton_image(docker_daemon, tmp_path), ["-c", READ_TARBALL],
        user=CI_USER, security_opts=opts, volumes={tarball.parent: "/out:ro"},
    )  # fmt: skip
    assert read.returncode == 0, read.stderr.decode()
    assert json.loads(read.stdout.decode()) == [1000, 1000, "f\n", "3\n", 9]


def test_cache_mount_for_another_uid_as_root(user: User, work: Path) -> None:
    """``uid=`` of a cache mount is an owner like any other: recorded, and root writes."""
    dockerfile = (
        "FROM oci:{base}\n"
        "RUN --mount=type=cache,target=/var/cache/x,uid=1000,mode=0700 "
        "echo c > /var/cache/x/c && cat /var/cache/x/c > /ok\n"
    )
    base = str(work / "base-src" / "layout")
    result, out = build_as(user, work, "Dockerfile.cache", dockerfile.format(base=base))
    assert result["ok"] is True, result["error"]
    with Image.open(out) as image:
        assert image.file("/ok").read_text() == "c\n"


def test_copy_chown_of_a_symlink_is_refused(user: User, work: Path) -> None:
    """A symlink takes no user xattr, so its owner cannot be recorded: refused, not lost."""
    links = work / "ctx" / "links"
    links.mkdir()
    (links / "target").write_text("t\n")
    (links / "ln").symlink_to("target")
    chown_tree(links, user)
    dockerfile = "FROM oci:{base}\nCOPY --chown=1000:1000 links /links\n"
    base = str(work / "base-src" / "layout")
    result, out = build_as(user, work, "Dockerfile.links", dockerfile.format(base=base))
    assert result["ok"] is False, result
    error = result["error"]
    assert "Dockerfile.links:2" in error
    assert "links/ln to 1000:1000" in error
    assert "symlink or special file cannot record it" in error
    assert "/etc/subuid" in error
    assert not out.exists()


@pytest.mark.docker
def test_container_user_with_a_subuid_range(
    docker_daemon: DockerDaemon, work: Path, tmp_path: Path
) -> None:
    """The container user with ranges in /etc/subuid and /etc/subgid. Debian's newuidmap is
    setuid root, and the kernel lets it write the map only with CAP_SYS_ADMIN over the new
    namespace, which docker's default set lacks: the build falls back to the single id and
    says why. With ``--cap-add SYS_ADMIN`` the full map works and a step as another user runs.
    """
    context, out_dir = _container_context(work, tmp_path)
    (context / "Dockerfile").write_text(
        "FROM oci:/base\nUSER app\nRUN id -u > /tmp/as-app && touch /home/app/sub/mine\n"
    )
    for name in ("subuid", "subgid"):
        (tmp_path / name).write_text("ci:300000:65536\n")
        (tmp_path / name).chmod(0o644)
    unconfined = ("seccomp=unconfined", "apparmor=unconfined")

    def build_with(*extra: str) -> subprocess.CompletedProcess[bytes]:
        return run_python(
            docker_daemon, skeleton_image(docker_daemon, tmp_path),
            ["-m", "pytest_imagebuild", "--context", "/ctx", "--dockerfile", "/ctx/Dockerfile",
             "--no-push", "--tar-path", "/out/image.tar"],
            user=CI_USER, security_opts=unconfined, extra_args=extra,
            volumes={context: "/ctx:ro", tmp_path / "base": "/base:ro", out_dir: "/out",
                     tmp_path / "subuid": "/etc/subuid:ro",
                     tmp_path / "subgid": "/etc/subgid:ro"},
        )  # fmt: skip

    refused = build_with()
    stderr = refused.stderr.decode()
    assert refused.returncode == 1, stderr
    assert "newuidmap did not map the /etc/subuid range" in stderr  # the sandbox line
    assert "cannot run as user 1000:1000" in stderr
    assert "ci has /etc/subuid and /etc/subgid ranges, but newuidmap could not map them" in stderr
    assert not (out_dir / "image.tar").exists()
    done = build_with("--cap-add", "SYS_ADMIN")
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "sandbox: rootless user namespace, full uid map (65537 ids)" in stderr
    with Image.open(out_dir / "image.tar") as image:
        assert image.file("/tmp/as-app").read_text() == "1000\n"
        mine = image.file("/home/app/sub/mine")
        assert (mine.uid, mine.gid) == (1000, 1000)
