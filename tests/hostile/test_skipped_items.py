"""What unpacking cannot apply is reported, never dropped: a base layer, an ADD archive and
a ``COPY --from`` image holding a device node, a ``trusted.*`` xattr and a GNU volume label
(a member type no filesystem has), written by GNU tar, bsdtar and docker. As root only the
label cannot be applied; as an unprivileged user the device node and the xattr cannot
either. The build log gets one line per kind with a count and the first paths, and the
plugin's terminal summary repeats them as a warning."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.summary import BuildRecord, skipped_lines
from tests.hostile.harness import attempt
from tests.image import imagekit as k
from tests.support.docker import DockerDaemon

WRITERS = ["gnu-tar", "gnu-tar-label", "bsdtar", "docker"]


def source_tree(path: Path) -> Path:
    (path / "dev").mkdir(parents=True)
    os.mknod(path / "dev" / "null0", 0o666 | 0o020000, os.makedev(1, 3))
    (path / "marked").write_text("marked\n")
    os.setxattr(path / "marked", "trusted.note", b"kept?")
    (path / "plain").write_text("plain\n")
    return path


def written_by(writer: str, tree: Path, out: Path, docker: DockerDaemon | None) -> bytes:
    """An uncompressed layer tar of ``tree`` as ``writer`` writes it."""
    xattrs = ["--xattrs", "--xattrs-include=*"]
    if writer == "gnu-tar":  # POSIX format, xattrs as SCHILY.xattr records
        subprocess.run(["tar", *xattrs, "-C", tree, "-cf", out, "."], check=True)
    elif writer == "gnu-tar-label":  # GNU format: a "V" volume label member, no xattrs
        subprocess.run(
            ["tar", "--format=gnu", "--label=VOLUME", "-C", tree, "-cf", out, "."], check=True
        )
    elif writer == "bsdtar":
        subprocess.run(["bsdtar", "--xattrs", "-C", tree, "-cf", out, "."], check=True)
    else:
        if docker is None:
            raise RuntimeError("docker layers need the docker daemon")
        tag = "imagebuild-test/skipped:1"
        plain = out.with_suffix(".in.tar")
        subprocess.run(["tar", *xattrs, "-C", tree, "-cf", plain, "."], check=True)
        docker.run("import", str(plain), tag)
        saved = out.with_suffix(".saved")
        saved.mkdir()
        docker.run("save", "-o", str(saved / "image.tar"), tag)
        subprocess.run(["tar", "-C", saved, "-xf", saved / "image.tar"], check=True)
        layers = sorted(saved.glob("*/layer.tar")) + sorted(saved.glob("blobs/sha256/*"))
        layer = max(layers, key=lambda p: p.stat().st_size)
        shutil.copy(layer, out)
    return out.read_bytes()


def expected(writer: str, user: str) -> set[str]:
    kinds = set()
    if writer == "gnu-tar-label":
        kinds.add("tar member type b'V'")
    if user == "rootless":
        kinds.add("device node")
        if writer != "gnu-tar-label":  # GNU format has no xattrs
            kinds.add("xattr trusted.note")
    return kinds


@pytest.fixture(scope="module")
def daemon(docker_daemon: DockerDaemon) -> DockerDaemon:
    return docker_daemon


@pytest.mark.parametrize("writer", WRITERS)
def test_unapplied_items_are_reported(
    space: Path, user: str, writer: str, request: pytest.FixtureRequest
) -> None:
    docker = request.getfixturevalue("daemon") if writer == "docker" else None
    tree = source_tree(space / "tree")
    layer_tar = written_by(writer, tree, space / "layer.tar", docker)
    layer = k.Layer(layer_tar, layer_tar)
    spec = k.Spec([layer], k.config([layer]))
    layout = k.oci_layout(space / "base", [spec])
    context = space / "context"
    context.mkdir()
    shutil.copy(space / "layer.tar", context / "archive.tar")
    dockerfile = (
        f"FROM oci:{layout}\nADD archive.tar /unpacked/\nCOPY --from=oci:{layout} /plain /copied\n"
    )
    outcome = attempt(context, dockerfile, space / "work", user)
    assert outcome.error is None, outcome.error
    kinds = {line.split(":")[0] for line in outcome.skipped}
    assert kinds == expected(writer, user), (outcome.skipped, outcome.stderr)
    for line in outcome.skipped:
        count = int(line.split(": ", 1)[1].split(" ", 1)[0])
        assert count >= 2, line  # the base layer and the ADD archive, at least
        assert "(" in line  # the first paths are named


def test_the_terminal_summary_warns() -> None:
    record = BuildRecord(
        "app/Dockerfile",
        "k",
        "built",
        1.0,
        skipped=("device node: 2 paths not applied (dev/null0, ./dev/null0)",),
    )
    assert skipped_lines([record, BuildRecord("other", "k2", "built", 1.0)]) == [
        "warning: app/Dockerfile: not everything in its layers was applied:",
        "  device node: 2 paths not applied (dev/null0, ./dev/null0)",
    ]
    again = BuildRecord.from_dict(record.to_dict())
    assert again == record


def test_the_plugin_warns_in_its_terminal_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)  # the inner run is a plain session
    tree = pytester.path / "tree"
    tree.mkdir()
    (tree / "plain").write_text("plain\n")
    raw = written_by("gnu-tar-label", tree, pytester.path / "label.tar", None)
    layer = k.Layer(raw, raw)
    layout = k.oci_layout(pytester.path / "base", [k.Spec([layer], k.config([layer]))])
    # a step that needs the files: the base is unpacked (a build of cached or metadata
    # steps only never unpacks it, and keeps the layer as it is)
    pytester.makefile("", Dockerfile=f"FROM oci:{layout}\nWORKDIR /made\n")
    pytester.makefile("", **{".dockerignore": "*\n"})
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.mark.dockerfile()
        def test_plain(image):
            assert image.file("/plain").read_text() == "plain\\n"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- imagebuild -*",
            f"warning: {pytester.path}/Dockerfile*: not everything in its layers was applied:",
            "  tar member type b'V': 1 path not applied (VOLUME)",
        ]
    )


@pytest.mark.parametrize("fmt", ["v7", "gnu-label"])
def test_tars_without_ustar_magic_are_unpacked_by_add(tmp_path: Path, fmt: str) -> None:
    """A V7 tar, and a GNU tar whose first header is a volume label (written V7-style), are
    archives to ADD, as to docker; the label is reported, the files are unpacked."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "plain").write_text("plain\n")
    context = tmp_path / "context"
    context.mkdir()
    args = ["--format=v7"] if fmt == "v7" else ["--format=gnu", "--label=VOLUME"]
    subprocess.run(["tar", *args, "-C", tree, "-cf", context / "t.tar", "."], check=True)
    outcome = attempt(context, "FROM scratch\nADD t.tar /d/\n", tmp_path / "work", "root")
    assert outcome.error is None, outcome.error
    assert outcome.skipped == (
        [] if fmt == "v7" else ["tar member type b'V': 1 path not applied (VOLUME)"]
    )
    assert outcome.image is not None
    with Image.open(outcome.image) as image:
        assert image.file("/d/plain").read_text() == "plain\n"
        assert not image.file("/d/t.tar").exists


def test_a_base_kept_in_the_root_store_still_reports_its_skipped_items(tmp_path: Path) -> None:
    """The second build takes the base unpacked by the first from ``<cache>/roots``: what
    that unpacking could not apply is reported again, not lost with the reuse."""
    from tests.builder.test_cli import imagebuild

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "plain").write_text("plain\n")
    raw = written_by("gnu-tar-label", tree, tmp_path / "label.tar", None)
    layer = k.Layer(raw, raw)
    layout = k.oci_layout(tmp_path / "base", [k.Spec([layer], k.config([layer]))])
    cache = tmp_path / "cache"
    for workdir in ("first", "second"):
        ctx = tmp_path / workdir
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM oci:{layout}\nWORKDIR /{workdir}\n")
        proc = imagebuild("-c", ctx, "--no-push", "--cache", "--cache-dir", cache,
                          "--log-format", "plain")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "imagebuild: tar member type b'V': 1 path not applied" in proc.stderr
    assert "root store: base " in proc.stderr
    assert " reused" in proc.stderr
