"""Whole builds of generated Dockerfiles (from scratch, on a context that holds a symlink to
the host's /etc and a random .dockerignore) end in an image or the project's error, and leave
nothing behind in the build root."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import ImageBuildError
from pytest_imagebuild.image import Image

from .strategies import ignore_patterns, words

KEYWORDS = ("COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "LABEL", "VOLUME", "EXPOSE", "CMD")
SOURCES = ("a", "b", "b/c", "link", "link/passwd", "*", "b/*", "[ab]", "a[", "?", ".", "..", "/")
DESTS = ("/", "/d/", "/a", "..", "/link/x", "d", "/b/c/", "$A", "/${A:-x}/")
ARGS = ("a=b", "A=/x", "/x", "80", "80/udp", "root", "1000:1000", "4294967295", '["sh"]', "$A")
COPY_FLAGS = ("", "--chmod=u+s", "--chmod=755", "--chown=4294967296", "--chown=1:1", "--link")


def _plausible_or_hostile(plausible: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Mostly values a build accepts, so the examples reach the steps; some hostile words."""
    chosen = st.sampled_from(plausible)
    return st.one_of(chosen, chosen, chosen, words())


def _instruction() -> st.SearchStrategy[str]:
    copy = st.tuples(
        st.sampled_from(("COPY", "ADD")),
        st.sampled_from(COPY_FLAGS),
        st.lists(_plausible_or_hostile(SOURCES), min_size=1, max_size=3),
        _plausible_or_hostile(DESTS),
    ).map(lambda t: " ".join((t[0], t[1], *t[2], t[3])))
    other = st.tuples(
        st.sampled_from(KEYWORDS), st.lists(_plausible_or_hostile(ARGS), min_size=1, max_size=3)
    ).map(lambda t: " ".join((t[0], *t[1])))
    return st.one_of(copy, copy, other)


def _context(root: Path, ignore: list[str]) -> Path:
    context = root / "context"
    (context / "b").mkdir(parents=True)
    (context / "a").write_text("a\n")
    (context / "b" / "c").write_text("c\n")
    (context / "link").symlink_to("/etc")
    (context / ".dockerignore").write_text("\n".join(ignore) + "\n")
    return context


@settings(max_examples=60, deadline=None)
@example(["COPY --chown=4294967296 a /"], [])
@example(["COPY link/passwd /", "ADD link /l"], [])
@example(["COPY a b /d/"], ["*", "!b/c"])
@given(
    st.lists(_instruction(), min_size=1, max_size=5),
    st.lists(ignore_patterns(), max_size=3),
)
def test_any_build_ends_in_an_image_or_the_projects_error(
    lines: list[str], ignore: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        context = _context(root, ignore)
        (context / "Dockerfile").write_text("FROM scratch\n" + "\n".join(lines) + "\n")
        builds = root / "builds"
        builds.mkdir()
        tar = root / "image.tar"
        try:
            build(
                BuildOptions(context=str(context), no_push=True, tar_path=tar, build_root=builds),
                verbose=False,
            )
        except ImageBuildError:
            assert not tar.exists()
        else:
            with Image.open(tar) as image:
                leaked = [f.path for f in image.walk() if f.is_file and f.contains(b"root:x:0:0")]
            assert leaked == []
        assert os.listdir(builds) == []
