"""diff() on image pairs the executor builds: each change shows as exactly that change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_imagebuild.diff import FieldChange, ImageDiff, PathChange, PathEntry, Rules, diff
from pytest_imagebuild.image import Image
from tests.image import imagekit as k

Pair = Callable[[str, str], tuple[Image, Image]]
SETUP = "RUN echo hi > /f && ln -s /f /link && mkdir /d && echo x > /d/g\n"


def files_only(result: ImageDiff) -> ImageDiff:
    return ImageDiff(added=result.added, removed=result.removed, changed=result.changed)


def test_same_dockerfile_twice_is_empty_with_semantic(pair: Pair) -> None:
    a, b = pair(SETUP, SETUP)
    assert diff(a, b, semantic=True).is_empty
    assert a.diff(b, semantic=True) == ImageDiff()


def test_config_only_change_lists_every_config_key(pair: Pair) -> None:
    a, b = pair(
        SETUP + "ENV A=1\nLABEL l=1\nUSER app\nWORKDIR /d\nEXPOSE 80\nSTOPSIGNAL SIGTERM\n",
        SETUP + "ENV A=2 B=3\nLABEL l=2\nUSER root\nWORKDIR /\nEXPOSE 81\nVOLUME /v\n"
        'STOPSIGNAL SIGKILL\nENTRYPOINT ["sh"]\nSHELL ["/bin/sh", "-ec"]\n'
        "HEALTHCHECK --retries=2 CMD true\nONBUILD RUN true\n",
    )
    result = diff(a, b, ignore=["history", "mtime"])
    assert files_only(result) == ImageDiff()
    fields = {c.field: (c.old, c.new) for c in result.config}
    assert fields["config.env.A"] == ("1", "2")
    assert fields["config.env.B"] == (None, "3")
    assert fields["config.labels.l"] == ("1", "2")
    assert fields["config.user"] == ("app", "root")
    assert fields["config.workdir"] == ("/d", "/")
    assert fields["config.ports"] == (("80/tcp",), ("81/tcp",))
    assert fields["config.volumes"] == ((), ("/v",))
    assert fields["config.stopsignal"] == ("SIGTERM", "SIGKILL")
    assert fields["config.entrypoint"] == (None, ("sh",))
    assert fields["config.shell"] == (None, ("/bin/sh", "-ec"))
    assert fields["config.healthcheck.retries"] == (None, 2)
    assert fields["config.onbuild"] == ((), ("RUN true",))
    assert "config.created" not in fields  # both built with the same created time
    assert result.history == ()


def test_mode_owner_symlink_and_deletion(pair: Pair) -> None:
    a, b = pair(
        SETUP,
        SETUP + "RUN chmod 4755 /f && chown 1000:1000 /d/g && ln -sfn /d/g /link && rm -r /d2 "
        "2>/dev/null; rm /bin/true\n",
    )
    result = diff(a, b, ignore=["mtime"])
    assert result.added == ()
    assert [e.path for e in result.removed] == ["/bin/true"]
    assert result.removed[0].type == "symlink"
    changes = {c.path: c.changes for c in result.changed}
    assert changes["/f"] == (FieldChange("mode", 0o644, 0o4755),)
    assert changes["/d/g"] == (FieldChange("uid", 0, 1000), FieldChange("gid", 0, 1000))
    assert changes["/link"] == (FieldChange("linked_to", "/f", "/d/g"),)
    assert set(changes) == {"/f", "/d/g", "/link"}  # parents differ only in mtime
    # Layer 2 exists in b alone; layer 1 (SETUP's RUN) may differ in file times only.
    fields = {c.field for c in result.layers}
    assert {"layers.count", "layers.diff_ids.2", "layers.digests.2", "layers.sizes.2"} <= fields
    assert {f.rpartition(".")[2] for f in fields} <= {"count", "1", "2"}
    history = {c.field: (c.old, c.new) for c in result.history}
    assert history["history.count"] == (3, 4)
    assert history["history.empty_layer.3"] == (None, 0)
    assert "rm /bin/true" in str(history["history.created_by.3"][1])


def test_content_change_reports_digest_and_size(pair: Pair) -> None:
    a, b = pair(SETUP + "RUN echo one > /c\n", SETUP + "RUN echo two > /c && echo longer > /d/g\n")
    result = diff(a, b, ignore=["mtime", "/d"])
    changes = {c.path: c.changes for c in result.changed}
    (digest,) = changes["/c"]
    assert digest.field == "sha256"
    assert digest.old != digest.new
    assert {c.field for c in changes["/d/g"]} == {"size"}
    assert result.removed == ()


def test_ignore_globs_drop_paths_and_mtime_shows_unless_semantic(pair: Pair) -> None:
    a, b = pair(SETUP, SETUP + "RUN mkdir -p /var/cache/x && touch /var/cache/x/y\n")
    result = diff(a, b)
    assert PathEntry("/var/cache/x/y", "file", 0o644, 0, 0, 0) in result.added
    # "/var/cache/**" is what is inside, as in image.glob: the directory itself is kept
    assert [e.path for e in diff(a, b, ignore=["/var/cache/**"]).added] == ["/var/cache"]
    assert diff(a, b, ignore=["/var/cache", "/var/cache/**"]).added == ()
    per_path = diff(a, b, ignore=["/var/cache/**:mtime", "/var/**:size"])
    assert {e.path for e in per_path.added} == {"/var/cache", "/var/cache/x", "/var/cache/x/y"}
    rules = Rules.parse(["/d/**:mtime"])
    assert rules.skips_field("mtime", "/d/g")
    assert not rules.skips_field("mtime", "/f")
    assert not rules.skips_field("mode", "/d/g")
    semantic = diff(a, b, semantic=True, ignore=["/var/cache/**", "/var/cache", "/var"])
    assert files_only(semantic) == ImageDiff()
    assert all(not c.field.startswith("layers.diff_ids") for c in semantic.layers)
    assert any(isinstance(c, PathChange) and c.changes[0].field == "mtime" for c in result.changed)


def test_xattr_and_capability_change(tmp_path: Path) -> None:
    # The executor's COPY and ADD drop xattrs (as docker's do), so this pair is written as
    # layer tars directly: the bytes a RUN setcap layer carries.
    raw = bytes.fromhex("0100000200200000000000000000000000000000")
    bind = bytes.fromhex("0100000200040000000000000000000000000000")
    images = []
    for n, (cap, comment) in enumerate(((raw, b"one"), (bind, b"two"))):
        xattrs = {"security.capability": cap, "user.comment": comment}
        lay = k.layer([k.file("opt/ping", b"ping", 0o755, xattrs=xattrs)])
        path = k.docker_archive(tmp_path / f"caps{n}.tar", k.Spec([lay], k.config([lay])))
        images.append(Image.open(path))
    a, b = images
    with a, b:
        assert a.file("/opt/ping").capabilities == "cap_net_raw=ep"
        result = diff(a, b, ignore=["layers"])
        assert result == ImageDiff(
            changed=(
                PathChange(
                    "/opt/ping",
                    (
                        FieldChange("xattrs.security.capability", raw, bind),
                        FieldChange("xattrs.user.comment", b"one", b"two"),
                        FieldChange("capabilities", "cap_net_raw=ep", "cap_net_bind_service=ep"),
                    ),
                ),
            )
        )
