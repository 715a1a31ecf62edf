"""OCI index, manifest and config JSON, mutated: an image built here (an OCI layout and a
docker archive), its documents changed in place (wrong types, missing keys, huge numbers,
deep nesting, unknown media types, bad digests) with the digests that point at them
recomputed, so the change reaches the parsers. Opening and reading each result gives an
image or the project's error, never another exception, in bounded time."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image

NEST = "\x00nest\x00"  # replaced by deeply nested JSON text after dumping
BAD_DIGESTS = [
    "sha256:../../../etc/passwd",
    "sha256:" + "0" * 64,
    "sha256:" + "A" * 64,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha256:",
    "",
]
MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.example.unknown+json",
    "text/plain",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -1, 0, 2**63, 2**64 + 1]),
    st.text(max_size=6),
    st.sampled_from(BAD_DIGESTS + MEDIA_TYPES),
    st.just(NEST),
    st.just(NEST),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An image this suite builds: (OCI layout, docker archive)."""
    work = tmp_path_factory.mktemp("oci-json")
    context = work / "context"
    context.mkdir()
    (context / "hello").write_text("hello\n")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY hello /hello\nENV A=1\nUSER 1000\nCMD ["/hello"]\n'
    )
    layout, archive = work / "layout", work / "image.tar"
    build(
        BuildOptions(
            context=str(context),
            no_push=True,
            tar_path=archive,
            oci_layout_path=layout,
            destinations=("imagebuild-test/json:1",),
            build_root=work / "b",
        ),
        verbose=False,
    )
    return layout, archive


def node_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += node_paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += node_paths(value, (*prefix, i))
    return out


@st.composite
def mutations(draw: st.DrawFn, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in node_paths(doc) if p]
        if not paths:
            return draw(VALUES)
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
    return doc


def dumped(doc: Any, depth: int) -> bytes:
    return json.dumps(doc).replace(json.dumps(NEST), "[" * depth + "]" * depth).encode()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_or_project_error(path: Path) -> str:
    started = time.monotonic()
    try:
        with Image.open(path) as image:
            for entry in image.walk():
                if entry.is_file:
                    entry.read_bytes()
            _ = (image.env, image.entrypoint, image.cmd, image.user, image.labels)
            _ = (image.history, image.layers, image.repo_tags, image.exposed_ports)
        outcome = "read"
    except ImageBuildError as error:
        outcome = error.message
    assert time.monotonic() - started < 10
    return outcome


def layout_docs(layout: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    index = json.loads((layout / "index.json").read_bytes())
    blob = layout / "blobs" / "sha256"
    manifest = json.loads((blob / index["manifests"][0]["digest"][7:]).read_bytes())
    config = json.loads((blob / manifest["config"]["digest"][7:]).read_bytes())
    return index, manifest, config


def write_layout(
    source: Path, dest: Path, index: Any, manifest: Any, config: Any, depth: int, which: str
) -> None:
    """Copy ``source`` to ``dest`` with the documents given; the mutated one's digest is
    written where its parent points (when the parent is still an intact document)."""
    shutil.copytree(source, dest)
    blobs = dest / "blobs" / "sha256"
    good_index, good_manifest, _ = layout_docs(source)
    if which == "config":
        data = dumped(config, depth)
        (blobs / digest(data)[7:]).write_bytes(data)
        manifest = copy.deepcopy(good_manifest)
        manifest["config"]["digest"], manifest["config"]["size"] = digest(data), len(data)
    if which in ("config", "manifest"):
        data = dumped(manifest, depth) if which == "manifest" else json.dumps(manifest).encode()
        (blobs / digest(data)[7:]).write_bytes(data)
        index = copy.deepcopy(good_index)
        index["manifests"][0]["digest"], index["manifests"][0]["size"] = digest(data), len(data)
        (dest / "index.json").write_bytes(json.dumps(index).encode())
    else:
        (dest / "index.json").write_bytes(dumped(index, depth))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), which=st.sampled_from(["index", "manifest", "config"]))
def test_a_mutated_oci_layout(built: tuple[Path, Path], data: st.DataObject, which: str) -> None:
    layout, _ = built
    docs = dict(zip(("index", "manifest", "config"), layout_docs(layout), strict=True))
    docs[which] = data.draw(mutations(docs[which]), label=which)
    depth = data.draw(st.sampled_from([1, 100_000]), label="nesting")
    with tempfile.TemporaryDirectory() as work:
        dest = Path(work) / "layout"
        write_layout(layout, dest, docs["index"], docs["manifest"], docs["config"], depth, which)
        assert read_or_project_error(dest)


def archive_members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            m.name: (tar.extractfile(m) or io.BytesIO()).read()
            for m in tar.getmembers()
            if m.isfile()
        }


@settings(max_examples=80, deadline=None)
@given(data=st.data(), which=st.sampled_from(["manifest.json", "config"]))
def test_a_mutated_docker_archive(
    built: tuple[Path, Path], data: st.DataObject, which: str
) -> None:
    _, archive = built
    members = archive_members(archive)
    manifest = json.loads(members["manifest.json"])
    config_name = manifest[0]["Config"]
    depth = data.draw(st.sampled_from([1, 100_000]), label="nesting")
    if which == "config":
        mutated = dumped(data.draw(mutations(json.loads(members[config_name]))), depth)
        new_name = (
            "blobs/sha256/" + digest(mutated)[7:]
            if config_name.startswith("blobs/")
            else digest(mutated)[7:] + ".json"
        )
        del members[config_name]
        members[new_name] = mutated
        manifest[0]["Config"] = new_name
        members["manifest.json"] = json.dumps(manifest).encode()
    else:
        members["manifest.json"] = dumped(data.draw(mutations(manifest)), depth)
    with tempfile.TemporaryDirectory() as work:
        bad = Path(work) / "bad.tar"
        with tarfile.open(bad, "w") as out:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                out.addfile(info, io.BytesIO(content))
        assert read_or_project_error(bad)
