"""Config values: every property the API names."""

from __future__ import annotations

from pathlib import Path

from pytest_imagebuild import oci
from pytest_imagebuild.image import Healthcheck, HistoryEntry, Image, Layer
from tests.image import imagekit as k

SECOND = 1_000_000_000


def full_spec() -> k.Spec:
    base = k.layer([k.file("a", b"a")])
    top = k.layer([k.file("b", b"b")], "gzip")
    cfg = k.config(
        [base, top],
        Env=["PATH=/usr/bin:/bin", "EMPTY=", "EQ=a=b"],
        Entrypoint=["/bin/app", "--serve"],
        Cmd=["--port", "80"],
        User="app:app",
        WorkingDir="/srv",
        Labels={"org.opencontainers.image.title": "app", "team": "core"},
        ExposedPorts={"8080/tcp": {}, "53/udp": {}},
        Volumes={"/data": {}, "/cache": {}},
        Healthcheck={
            "Test": ["CMD-SHELL", "curl -f http://localhost/"],
            "Interval": 30 * SECOND,
            "Timeout": 5 * SECOND,
            "StartPeriod": 2 * SECOND,
            "StartInterval": SECOND,
            "Retries": 3,
        },
        StopSignal="SIGTERM",
        Shell=["/bin/bash", "-c"],
        OnBuild=["RUN echo child"],
    )
    cfg["variant"] = "v8"
    cfg["architecture"] = "arm64"
    cfg["history"] = [
        {"created": "2024-01-01T00:00:00Z", "created_by": "ADD a /", "author": "me"},
        {"created_by": "ENV X=1", "empty_layer": True, "comment": "meta"},
        {"created_by": "ADD b /"},
    ]
    return k.Spec([base, top], cfg, platform="linux/arm64/v8")


def test_every_config_property(tmp_path: Path) -> None:
    s = full_spec()
    with Image.open(k.docker_archive(tmp_path / "i.tar", s, tags=("app:1", "app:latest"))) as image:
        assert image.env == {"PATH": "/usr/bin:/bin", "EMPTY": "", "EQ": "a=b"}
        assert image.entrypoint == ("/bin/app", "--serve")
        assert image.cmd == ("--port", "80")
        assert image.user == "app:app"
        assert image.workdir == "/srv"
        assert image.labels == {"org.opencontainers.image.title": "app", "team": "core"}
        assert image.exposed_ports == ("53/udp", "8080/tcp")
        assert image.volumes == ("/cache", "/data")
        assert image.healthcheck == Healthcheck(
            test=("CMD-SHELL", "curl -f http://localhost/"),
            interval=30 * SECOND,
            timeout=5 * SECOND,
            start_period=2 * SECOND,
            start_interval=SECOND,
            retries=3,
        )
        assert image.stop_signal == "SIGTERM"
        assert image.shell == ("/bin/bash", "-c")
        assert image.onbuild == ("RUN echo child",)
        assert image.os == "linux"
        assert image.architecture == "arm64"
        assert image.variant == "v8"
        assert image.created == "2024-01-01T00:00:00Z"
        assert image.history == (
            HistoryEntry("2024-01-01T00:00:00Z", "ADD a /", False, "", "me"),
            HistoryEntry(None, "ENV X=1", True, "meta", ""),
            HistoryEntry(None, "ADD b /", False, "", ""),
        )
        assert image.layers == (
            Layer(
                0,
                s.layers[0].digest,
                s.layers[0].diff_id,
                len(s.layers[0].blob),
                oci.DOCKER_LAYER,
                "ADD a /",
            ),
            Layer(
                1,
                s.layers[1].digest,
                s.layers[1].diff_id,
                len(s.layers[1].blob),
                oci.DOCKER_LAYER_GZIP,
                "ADD b /",
            ),
        )
        assert image.config == s.config
        assert image.id == k.sha(s.config_bytes)
        assert image.digest is None
        assert image.manifest_media_type == oci.DOCKER_MANIFEST
        assert image.config_media_type == oci.DOCKER_CONFIG
        assert image.annotations == {}
        assert image.repo_tags == ("app:1", "app:latest")


def test_empty_config_defaults(tmp_path: Path) -> None:
    lay = k.layer([k.file("a")])
    cfg = k.config([lay])
    del cfg["created"]
    del cfg["history"]
    with Image.open(k.oci_layout(tmp_path, [k.Spec([lay], cfg)])) as image:
        assert image.env == {}
        assert image.entrypoint is None
        assert image.cmd is None
        assert image.user == ""
        assert image.workdir == ""
        assert image.labels == {}
        assert image.exposed_ports == ()
        assert image.volumes == ()
        assert image.healthcheck is None
        assert image.stop_signal is None
        assert image.shell is None
        assert image.onbuild == ()
        assert image.variant is None
        assert image.created is None
        assert image.history == ()
        assert image.layers[0].created_by == ""
        assert image.layers[0].media_type == oci.OCI_LAYER
        assert image.config_media_type == oci.OCI_CONFIG
        assert image.digest is not None
        assert image.digest.startswith("sha256:")


def test_docker25_archive_has_digest_and_tags(tmp_path: Path) -> None:
    with Image.open(k.docker_archive(tmp_path / "i.tar", full_spec(), "blobs", ("x:1",))) as image:
        assert image.repo_tags == ("x:1",)
        assert image.digest is not None
        assert image.layers[1].media_type == oci.OCI_LAYER_GZIP
