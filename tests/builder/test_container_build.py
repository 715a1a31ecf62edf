"""The whole build where CI runs it: a docker container with the default seccomp profile.

As root there the sandbox picks the chroot mode, so ``RUN --mount`` and VOLUME are emulated
by copying and moving things in place (``sandbox.in_place``). The container's tarball must
show the same files, owners, modes and config as the same Dockerfile built on the host, with
namespaces and with a forced chroot mode. As a non-root user the build is refused with the
remedy. The container setup is in ``container_support.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_imagebuild.builder import sandbox
from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.fs import Snapshotter
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.builder.sandbox import Mount
from pytest_imagebuild.builder.steps.runner import drop_touched_dirs
from pytest_imagebuild.errors import SandboxError
from pytest_imagebuild.image import Image
from tests.builder.build_support import config_view, file_table, history_view, make_base
from tests.builder.busybox_root import make_busybox_root
from tests.builder.container_support import CI_USER, run_python, skeleton_image
from tests.support.docker import DockerDaemon
from tests.support.registry import RegistryFactory

SECRET = "s3cr3t-value-42"
MOUNTS_AND_VOLUMES = """\
FROM {base} AS src
RUN echo from-stage > /made
FROM {base}
ENV APP_HOME=/srv/app GREETING=hello
RUN mkdir -p /data "$APP_HOME" && echo seed > /data/seed \\
 && chown 1000:1000 /data/seed "$APP_HOME"
VOLUME /data
RUN echo "$GREETING" > /hello && chown app:app /hello && chmod 4750 /hello \\
 && ln -s /hello /hello-link && mkdir -m 2775 /shared && rm /bin/vi \\
 && echo changed > /data/seed && echo new > /data/new
COPY --chown=app:app files/ $APP_HOME/
COPY --chown=1000:0 data.txt /srv/data.txt
RUN --mount=type=cache,target=/var/cache/app echo cached > /var/cache/app/c
RUN --mount=type=cache,target=/var/cache/app cp /var/cache/app/c /kept
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && ls /scratch > /listed
RUN --mount=type=bind,from=src,source=/made,target=/m cp /m /bound
RUN --mount=type=bind,source=files,target=/etc,rw cat /etc/a.txt > /etcbound \\
 && echo x > /etc/stray
RUN --mount=type=secret,id=tok ls -ln /run/secrets/tok | cut -c1-10 > /secretmode \\
 && grep -q s3cr3t /run/secrets/tok && echo used > /used
RUN --mount=type=bind,source=data.txt,target=/etc/passwd cat /etc/passwd > /passwd-seen
USER app
WORKDIR /srv/app/work
RUN id -u > /tmp/whoami && touch "$APP_HOME/owned" && pwd > /tmp/pwd
RUN <<EOF
#!/bin/sh
echo script > /tmp/script
EOF
"""
FILES = {"files/a.txt": "a\n", "files/sub/b.txt": "b\n", "data.txt": "data\n"}


def write_context(path: Path, base: str) -> Path:
    for name, text in {**FILES, "Dockerfile": MOUNTS_AND_VOLUMES.format(base=base)}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
        (path / name).chmod(0o644)
    for directory in (path, path / "files", path / "files" / "sub"):
        directory.chmod(0o755)
    return path


def write_secret(directory: Path) -> Path:
    directory.mkdir(mode=0o755)
    secret = directory / "secret"
    secret.write_text(SECRET + "\n")
    return secret


def imagebuild(*args: str | Path, sandbox: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGEBUILD_SANDBOX": sandbox}
    cmd = [sys.executable, "-m", "pytest_imagebuild", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def layer_paths(image: Image) -> list[list[str]]:
    return [[f.path for f in image.layer_files(i)] for i in range(len(image.layers))]


def check_image(path: Path) -> Image:
    """What docker gives for the Dockerfile above, whichever sandbox mode built it."""
    image = Image.open(path)
    try:
        _check(image)
    except BaseException:
        image.close()
        raise
    return image


def _check(image: Image) -> None:
    assert image.file("/hello").mode == 0o4750
    assert (image.file("/hello").user, image.file("/hello").group) == ("app", "app")
    assert image.file("/hello-link").linked_to == "/hello"
    assert image.file("/shared").mode == 0o2775
    assert not image.file("/bin/vi").exists
    assert image.file("/data/seed").read_text() == "seed\n"  # RUN writes to a VOLUME drop
    assert (image.file("/data/seed").uid, image.file("/data/new").exists) == (1000, False)
    assert image.file("/srv/app/sub/b.txt").user == "app"
    assert (image.file("/srv/data.txt").uid, image.file("/srv/data.txt").gid) == (1000, 0)
    assert image.file("/kept").read_text() == "cached\n"
    assert image.file("/listed").read_text() == "t\n"
    assert image.file("/bound").read_text() == "from-stage\n"
    assert image.file("/etcbound").read_text() == "a\n"
    assert image.file("/passwd-seen").read_text() == "data\n"
    assert image.file("/etc/passwd").read_text().startswith("root:x:0:0:")
    assert image.file("/secretmode").read_text() == "-r--------\n"
    assert image.file("/used").exists
    assert image.file("/tmp/whoami").read_text() == "1000\n"
    assert image.file("/tmp/pwd").read_text() == "/srv/app/work\n"
    assert image.file("/srv/app/owned").uid == 1000
    assert image.file("/tmp/script").read_text() == "script\n"
    leaked = ("/var/cache/app/**", "/scratch/**", "/m", "/etc/stray", "/etc/a.txt", "/run/**")
    for pattern in leaked:
        assert image.glob(pattern, all_layers=True) == [], pattern
    for index in range(len(image.layers)):
        for entry in image.layer_files(index):
            assert not (entry.is_file and entry.contains(SECRET)), entry.path
    assert SECRET not in json.dumps(image.config)
    assert (image.env["APP_HOME"], image.user, image.workdir) == (
        "/srv/app",
        "app",
        "/srv/app/work",
    )
    assert image.volumes == ("/data",)


def test_chroot_mode_on_the_host_matches_namespaces(busybox_rootfs: Path, tmp_path: Path) -> None:
    """IMAGEBUILD_SANDBOX=chroot: mounts and volumes emulated in place, same image."""
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    context = write_context(tmp_path / "ctx", f"oci:{layout}")
    secret = write_secret(tmp_path / "job")
    tables = {}
    for mode in ("chroot", "namespaces"):
        out = tmp_path / f"{mode}.tar"
        done = imagebuild(
            "--context", context, "--no-push", "--tar-path", out,
            "--secret", f"id=tok,src={secret}", sandbox=mode,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with check_image(out) as image:
            tables[mode] = (
                file_table(image),
                layer_paths(image),
                config_view(image),
                history_view(image),
            )
    assert tables["chroot"] == tables["namespaces"]


def test_in_place_leaves_the_root_as_it_was(tmp_path: Path) -> None:
    """Targets new and existing, a failing command: afterwards only ctimes moved."""
    root = make_busybox_root(tmp_path / "root")
    (root / "etc" / "app").mkdir()
    (root / "etc" / "app" / "conf").write_text("image\n")
    cache, secret, other = tmp_path / "cache", tmp_path / "secret", tmp_path / "other"
    cache.mkdir()
    other.mkdir()
    secret.write_text(SECRET)
    secret.chmod(0o400)
    snapshotter = Snapshotter(root)
    snapshotter.reset()
    before = dict(snapshotter.index)
    mounts = [
        Mount.bind(cache, "/var/cache/app", readonly=False),
        Mount.bind(secret, "/run/secrets/tok"),
        Mount.bind(other, "/etc/app"),  # over an existing directory
        Mount.bind(secret, "/etc/passwd"),  # over an existing file
        Mount.tmpfs("/scratch"),
    ]
    script = (
        "set -e; echo c > /var/cache/app/c; test ! -e /etc/app/conf; grep -q s3cr3t /etc/passwd;"
        "stat -c %a /run/secrets/tok; echo t > /scratch/t; exit 3"
    )
    out = bytearray()
    with sandbox.in_place(root, mounts) as placed:
        code = sandbox.run(
            root, ["/bin/sh", "-c", script], output=out.extend, mode=sandbox.forced("chroot")
        )
    assert (code, out.decode()) == (3, "400\n")
    assert (cache / "c").read_text() == "c\n"
    restored = [str(p.relative_to(root)) for p in placed.restored]
    assert sorted(restored) == ["etc/app", "etc/passwd"]
    changes = drop_touched_dirs(snapshotter.snapshot(), before, snapshotter.index, exact=restored)
    assert not changes, changes
    assert (root / "etc" / "app" / "conf").read_text() == "image\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "other", "root", "secret"]
    # a command that deletes the directory above a target deletes what was held aside too
    mounts = [Mount.bind(other, "/etc/app"), Mount.bind(secret, "/run/secrets/tok")]
    with sandbox.in_place(root, mounts):
        sandbox.run(root, ["/bin/rm", "-rf", "/etc", "/run"], mode=sandbox.forced("chroot"))
    assert not (root / "etc").exists()
    assert not (root / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "other", "root", "secret"]
    with (
        pytest.raises(SandboxError, match="contains the stage root"),
        sandbox.in_place(root, [Mount.bind(tmp_path, "/x")]),
    ):
        pass


@pytest.mark.docker
def test_build_in_a_ci_container_as_root(
    docker_daemon: DockerDaemon,
    busybox_rootfs_tar: Path,
    registry: RegistryFactory,
    tmp_path: Path,
) -> None:
    reg = registry()
    base = f"{reg.host}/busybox:1"
    push = tmp_path / "push"
    push.mkdir()
    (push / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
    (push / "Dockerfile").write_text('FROM scratch\nADD rootfs.tar /\nCMD ["sh"]\n')
    build(BuildOptions(context=str(push), destinations=(base,)), verbose=False)
    context = write_context(tmp_path / "ctx", base)
    secret = write_secret(tmp_path / "job")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    image = skeleton_image(docker_daemon, tmp_path)
    done = run_python(
        docker_daemon, image,
        ["-m", "pytest_imagebuild", "--context", "/ctx", "--dockerfile", "/ctx/Dockerfile",
         "--no-push", "--tar-path", "/out/image.tar", "--secret", "id=tok,src=/job/secret"],
        volumes={context: "/ctx:ro", secret.parent: "/job:ro", out_dir: "/out"},
        network_host=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    probe = ["-c", "from pytest_imagebuild.builder import sandbox; print(sandbox.probe().kind)"]
    mode = run_python(docker_daemon, image, probe, network_host=True).stdout.decode().strip()
    assert mode == "chroot"  # the container gave the build no mounts
    host_tar = tmp_path / "host.tar"
    options = BuildOptions(
        context=str(context), no_push=True, tar_path=host_tar, secrets=(("tok", secret),)
    )
    build(options, verbose=False)
    with check_image(out_dir / "image.tar") as inside, check_image(host_tar) as host:
        assert file_table(inside) == file_table(host)
        assert layer_paths(inside) == layer_paths(host)
        assert config_view(inside) == config_view(host)
        assert history_view(inside) == history_view(host)
    assert os.listdir(out_dir) == ["image.tar"]


@pytest.mark.docker
def test_build_in_a_ci_container_as_non_root_is_refused(
    docker_daemon: DockerDaemon, busybox_rootfs: Path, tmp_path: Path
) -> None:
    _, layout = make_base(busybox_rootfs, tmp_path / "base")
    context = write_context(tmp_path / "ctx", "oci:/base")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out_dir.chmod(0o777)  # writable, so a missing tarball means the build wrote none
    done = run_python(
        docker_daemon, skeleton_image(docker_daemon, tmp_path),
        ["-m", "pytest_imagebuild", "--context", "/ctx", "--dockerfile", "/ctx/Dockerfile",
         "--no-push", "--tar-path", "/out/image.tar"],
        user=CI_USER, volumes={context: "/ctx:ro", layout: "/base:ro", out_dir: "/out"},
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert stderr.startswith("imagebuild: error: cannot create a user namespace"), stderr
    assert "seccomp" in stderr
    assert "--security-opt seccomp=unconfined" in stderr
    assert "as root in the container" in stderr
    assert os.listdir(out_dir) == []
