"""assert_file, assert_env, assert_layers, assert_no_files: every mismatch in one message."""

from __future__ import annotations

import hashlib
import re

import pytest

from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.assertions import (
    assert_env,
    assert_file,
    assert_layers,
    assert_no_files,
)


def message(excinfo: pytest.ExceptionInfo[AssertionError]) -> list[str]:
    return str(excinfo.value).splitlines()


def test_assert_file_passes_and_returns_the_file(sample: Image) -> None:
    digest = hashlib.sha256(b"[server]\nport = 8080\n").hexdigest()
    file = assert_file(
        sample,
        "home/app/config.ini",
        type="file",
        mode=0o644,
        uid=1000,
        gid=1000,
        user="app",
        group="app",
        size=21,
        sha256="sha256:" + digest,
        contains=["port = 8080", re.compile(r"^\[server\]$", re.M), b"[server]"],
    )
    assert file.path == "/home/app/config.ini"
    assert_file(sample, "/home/app/config.ini", sha256=digest)
    assert_file(sample, "/usr/bin/sh", type="symlink", linked_to="/bin/sh")
    assert_file(sample, "/tmp/secret", exists=False)


def test_assert_file_lists_every_mismatch(sample: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_file(
            sample,
            "/usr/bin/ping",
            type="dir",
            mode=0o755,
            uid=0,
            user="app",
            group="root",
            size=3,
            sha256="0" * 64,
            contains=["pong", re.compile("^pi")],
            capabilities="cap_x=ep",
        )
    lines = message(excinfo)
    ping_digest = hashlib.sha256(b"ping\n").hexdigest()
    assert lines[0] == "/usr/bin/ping: 7 mismatches"
    assert lines[1:8] == [
        "  type: expected 'dir', found 'file'",
        "  mode: expected 0o755 (rwxr-xr-x), found 0o4755 (rwsr-xr-x)"
        " (set but not expected: setuid)",
        "  user: expected 'app', found 'root'",
        "  size: expected 3, found 5",
        f"  sha256: expected '{'0' * 64}', found '{ping_digest}'",
        "  capabilities: expected 'cap_x=ep', found None",
        "  contains: 'pong' not found",
    ]
    assert lines[8] == "/usr/bin/ping: file 0o4755 (rwsr-xr-x) root:root 5 bytes"
    assert re.fullmatch(
        r"written by layer 1 \([0-9a-f]{12}\): RUN chmod u\+s /usr/bin/ping && echo token >"
        r" /tmp/secret",
        lines[9],
    )


def test_assert_file_missing_path_suggests_neighbours(sample: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_file(sample, "/usr/bin/pnig", mode=0o755)
    assert message(excinfo) == [
        "/usr/bin/pnig: 1 mismatch",
        "  exists: expected a path, found nothing",
        "nearest existing paths:",
        "  /usr/bin/ping",
        "  /usr/bin/sh",
        "/usr/bin contains: ping, sh",
    ]


def test_assert_file_unexpected_path_names_its_layer(sample: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_file(sample, "/home/app", exists=False)
    lines = message(excinfo)
    assert lines[:3] == [
        "/home/app: 1 mismatch",
        "  exists: expected no path, found a dir",
        "/home/app: dir 0o755 (rwxr-xr-x) app:app 0 bytes",
    ]
    assert lines[3].endswith("RUN rm /tmp/secret && mkdir /home/app")


def test_assert_file_contents_of_a_directory(sample: Image) -> None:
    with pytest.raises(AssertionError, match="contains: cannot read the contents of a dir"):
        assert_file(sample, "/etc", contains="x")


def test_assert_file_rejects_unknown_types(sample: Image) -> None:
    with pytest.raises(UsageError, match="type must be one of"):
        assert_file(sample, "/etc", type="directory")


def test_assert_env(sample: Image) -> None:
    assert_env(sample, PATH="/usr/bin:/bin", LANG=re.compile(r"UTF-8$"), HOME=None)
    assert_env(sample, {"LANG": "C.UTF-8"})


def test_assert_env_lists_every_mismatch(sample: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_env(sample, {"PATH": "/bin"}, LANG=re.compile("^en_"), HOME="/root", LANG_ALIAS=None)
    assert message(excinfo) == [
        "env: 3 mismatches",
        "  PATH: expected '/bin', found '/usr/bin:/bin'"
        " (set by: ENV PATH=/usr/bin:/bin LANG=C.UTF-8)",
        "  LANG: expected a match for '^en_', found 'C.UTF-8'"
        " (set by: ENV PATH=/usr/bin:/bin LANG=C.UTF-8)",
        "  HOME: expected '/root', found not set",
        "image env:",
        "  PATH=/usr/bin:/bin",
        "  LANG=C.UTF-8",
    ]


def test_assert_env_unset_expected(sample: Image) -> None:
    with pytest.raises(AssertionError, match=r"LANG: expected not set, found 'C\.UTF-8'"):
        assert_env(sample, LANG=None)
    with pytest.raises(UsageError):
        assert_env(sample)


def test_assert_layers(sample: Image) -> None:
    assert_layers(sample, count=3)
    assert_layers(sample, created_by=["ADD", re.compile(r"chmod u\+s"), "mkdir /home/app"])
    assert_layers(sample, created_by=[..., "mkdir /home/app"])
    assert_layers(sample, created_by=["ADD rootfs", ...])
    assert_layers(sample, created_by=[..., "chmod", ...])


def test_assert_layers_lists_every_mismatch(sample: Image) -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_layers(sample, count=2, created_by=["ADD", "RUN apt-get", re.compile("^COPY")])
    lines = message(excinfo)
    assert lines[:4] == [
        "layers: 3 mismatches",
        "  count: expected 2, found 3",
        "  layer 1: expected 'RUN apt-get', found"
        " 'RUN chmod u+s /usr/bin/ping && echo token > /tmp/secret'",
        "  layer 2: expected re '^COPY', found 'RUN rm /tmp/secret && mkdir /home/app'",
    ]
    assert lines[4] == "image layers (3):"
    assert [line.split(": ", 1)[1] for line in lines[5:]] == [
        "ADD rootfs /",
        "RUN chmod u+s /usr/bin/ping && echo token > /tmp/secret",
        "RUN rm /tmp/secret && mkdir /home/app",
    ]


def test_assert_layers_length_and_ellipsis_mismatch(sample: Image) -> None:
    with pytest.raises(AssertionError, match=r"created_by: 2 patterns for 3 layers"):
        assert_layers(sample, created_by=["ADD", "RUN"])
    with pytest.raises(AssertionError, match=r"layers do not match \[\.\.\., 'COPY app'\]"):
        assert_layers(sample, created_by=[..., "COPY app"])


def test_assert_no_files(sample: Image) -> None:
    assert_no_files(sample, "/root/**", "**/*.pem")
    assert_no_files(sample, "/tmp/secret", all_layers=False)
    with pytest.raises(AssertionError) as excinfo:
        assert_no_files(sample, "/tmp/*", "/home/**/*.ini")
    lines = message(excinfo)
    assert lines[0] == "unexpected files: 2 mismatches"
    assert lines[1] == "  /tmp/secret matches '/tmp/*' (deleted later, still in the layers)"
    assert lines[2].startswith("      written by layer 1 ")
    assert lines[3] == "  /home/app/config.ini matches '/home/**/*.ini' (present)"
    assert lines[4].startswith("      written by layer 2 ")


def test_helpers_hide_their_frames(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest
        from pytest_imagebuild.plugin.assertions import assert_file

        @pytest.mark.dockerfile(image="images/app.tar")
        def test_ping(image):
            assert_file(image, "/usr/bin/ping", mode=0o755, user="app")
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       assert_file(image, *",
            "E       AssertionError: /usr/bin/ping: 2 mismatches",
            "E         mode: expected 0o755 (rwxr-xr-x), found 0o4755 (rwsr-xr-x)*",
            "E         user: expected 'app', found 'root'",
            "E       /usr/bin/ping: file 0o4755 (rwsr-xr-x) root:root 5 bytes",
            "E       written by layer 1 (*): RUN chmod u+s /usr/bin/ping*",
            "test_helpers_hide_their_frames.py:6: AssertionError",
        ]
    )
    result.stdout.no_fnmatch_line("*assertions.py*")
