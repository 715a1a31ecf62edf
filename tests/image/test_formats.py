"""Every container format and layer compression opens to the same image."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagebuild import oci
from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image import Image
from tests.image import imagekit as k

ENTRIES = [
    k.directory("etc"),
    k.file("etc/hostname", b"box\n"),
    k.directory("usr/bin"),
    k.file("usr/bin/tool", b"#!/bin/sh\necho tool\n" * 1000, mode=0o755),
    k.symlink("bin", "usr/bin"),
]


def spec(compression: str) -> k.Spec:
    base = k.layer(ENTRIES, compression)
    top = k.layer([k.file("etc/motd", b"welcome\n"), k.whiteout("etc/hostname")], compression)
    return k.Spec([base, top], k.config([base, top], Env=["PATH=/usr/bin"]))


Writer = Callable[[Path, k.Spec], Path]
WRITERS: dict[str, Writer] = {
    "docker-legacy": lambda d, s: k.docker_archive(d / "i.tar", s, "legacy", ("app:1",)),
    "docker-blobs": lambda d, s: k.docker_archive(d / "i.tar", s, "blobs", ("app:1",)),
    "kaniko": lambda d, s: k.docker_archive(d / "i.tar", s, "kaniko", ("app:1",)),
    "oci-layout": lambda d, s: k.oci_layout(d / "layout", [s]),
    "oci-archive": lambda d, s: k.oci_archive(d / "i.tar", [s]),
}


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("form", list(WRITERS))
def test_formats_and_compressions(tmp_path: Path, form: str, compression: str) -> None:
    s = spec(compression)
    with Image.open(WRITERS[form](tmp_path, s)) as image:
        assert image.env == {"PATH": "/usr/bin"}
        assert [lay.diff_id for lay in image.layers] == [lay.diff_id for lay in s.layers]
        assert [lay.digest for lay in image.layers] == [lay.digest for lay in s.layers]
        assert [lay.size for lay in image.layers] == [len(lay.blob) for lay in s.layers]
        assert image.id == k.sha(s.config_bytes)
        assert image.file("/usr/bin/tool").read_text() == "#!/bin/sh\necho tool\n" * 1000
        assert image.file("bin/tool").contains("echo tool")
        assert image.file("/etc/motd").read_bytes() == b"welcome\n"
        assert not image.file("/etc/hostname").exists
        assert image.glob("/etc/*") == ["/etc/motd"]
        assert image.glob("etc/*", all_layers=True) == ["/etc/hostname", "/etc/motd"]
        if form.startswith("oci"):
            assert image.repo_tags == ()
            assert image.digest is not None
            assert image.manifest_media_type == oci.OCI_MANIFEST
            assert image.annotations == {"org.example.note": "hello"}
        else:
            assert image.repo_tags == ("app:1",)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_layer_media_types_follow_magic_bytes(tmp_path: Path, compression: str) -> None:
    with Image.open(k.docker_archive(tmp_path / "i.tar", spec(compression))) as image:
        expected = {
            "none": oci.DOCKER_LAYER,
            "gzip": oci.DOCKER_LAYER_GZIP,
            "zstd": oci.OCI_LAYER_ZSTD,
        }[compression]
        assert {lay.media_type for lay in image.layers} == {expected}
        assert image.manifest_media_type == oci.DOCKER_MANIFEST
        assert image.config_media_type == oci.DOCKER_CONFIG
        assert image.digest is None


def test_read_in_any_order_from_compressed_layer(tmp_path: Path) -> None:
    entries = [k.file(f"d/f{i}", f"content {i}\n".encode() * 300) for i in range(50)]
    with Image.open(k.docker_archive(tmp_path / "i.tar", k.simple(entries, "gzip"))) as image:
        for i in [40, 3, 49, 0, 0, 25]:
            assert image.file(f"d/f{i}").read_bytes() == f"content {i}\n".encode() * 300


def test_legacy_archive_with_symlinked_layer(tmp_path: Path) -> None:
    lay = k.layer([k.file("a", b"A")])
    s = k.Spec([lay, lay], k.config([lay, lay]))
    cfg = s.config_bytes
    path = tmp_path / "i.tar"
    with tarfile.open(path, "w") as tar:
        k.add_tar_member(tar, "c.json", cfg)
        k.add_tar_member(tar, "one/layer.tar", lay.blob)
        info = tarfile.TarInfo("two/layer.tar")
        info.type, info.linkname = tarfile.SYMTYPE, "../one/layer.tar"
        tar.addfile(info)
        manifest = [{"Config": "c.json", "Layers": ["one/layer.tar", "two/layer.tar"]}]
        k.add_tar_member(tar, "manifest.json", json.dumps(manifest).encode())
    with Image.open(path) as image:
        assert len(image.layers) == 2
        assert image.file("a").layer == image.layers[1]


def multi(tmp_path: Path, nested: bool = False, archive: bool = False) -> Path:
    specs = []
    for plat in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]:
        arch = plat.split("/")[1]
        lay = k.layer([k.file("arch", arch.encode())])
        specs.append(k.Spec([lay], k.config([lay], arch=arch), platform=plat))
    if archive:
        return k.oci_archive(tmp_path / "multi.tar", specs, nested)
    return k.oci_layout(tmp_path / "multi", specs, nested)


@pytest.mark.parametrize(("nested", "archive"), [(False, False), (True, False), (True, True)])
def test_multi_platform(tmp_path: Path, nested: bool, archive: bool) -> None:
    path = multi(tmp_path, nested, archive)
    assert Image.platforms(path) == ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    for plat, arch in [
        ("linux/arm64", "arm64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/arm/v7", "arm"),
    ]:
        with Image.open(path, platform=plat) as image:
            assert image.architecture == arch
            assert image.file("/arch").read_text() == arch


def test_multi_platform_default_is_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    with Image.open(multi(tmp_path)) as image:
        assert image.architecture == "arm64"


def test_missing_platform_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImageFormatError, match=r"no image for platform linux/s390x \(it has "):
        Image.open(multi(tmp_path), platform="linux/s390x")


def test_single_platform_opens_on_any_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "s390x")
    lay = k.layer([k.file("x")])
    s = k.Spec([lay], k.config([lay], arch="arm64"), platform="linux/arm64")
    with Image.open(k.oci_layout(tmp_path, [s])) as image:
        assert image.architecture == "arm64"
    assert Image.platforms(k.docker_archive(tmp_path / "d.tar", s)) == ("linux/arm64",)


def test_attestation_manifests_are_skipped(tmp_path: Path) -> None:
    lay = k.layer([k.file("x")])
    layout = k.oci_layout(tmp_path, [k.Spec([lay], k.config([lay]))])
    index = json.loads((layout / "index.json").read_text())
    index["manifests"].append(
        {
            "mediaType": oci.OCI_MANIFEST,
            "digest": "sha256:" + "0" * 64,
            "size": 1,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))
    assert Image.platforms(layout) == ("linux/amd64",)
    with Image.open(layout) as image:
        assert image.file("x").exists


def test_tar_without_end_blocks(tmp_path: Path) -> None:
    raw = k.tar_bytes([k.file("x", b"data")])[:1024]  # one header, one data block
    lay = k.Layer(raw, raw)
    with Image.open(k.docker_archive(tmp_path / "i.tar", k.Spec([lay], k.config([lay])))) as image:
        assert image.file("x").read_bytes() == b"data"


@pytest.mark.parametrize("nested", [False, True])
def test_oci_image_names_from_annotations(tmp_path: Path, nested: bool) -> None:
    lay = k.layer([k.file("x")])
    layout = k.oci_layout(tmp_path, [k.Spec([lay], k.config([lay]))], nested)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["annotations"] = {
        "io.containerd.image.name": "docker.io/library/app:1",
        "org.opencontainers.image.ref.name": "1",
    }
    (layout / "index.json").write_text(json.dumps(index))
    with Image.open(layout) as image:
        assert image.repo_tags == ("docker.io/library/app:1",)
