"""How a diff reads: in pytest's assertion messages, and the baseline text round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.diff.render import diff_lines
from pytest_imagebuild.image import Image
from pytest_imagebuild.plugin.baselines import baseline_text, compare_text
from pytest_imagebuild.plugin.baselines_format import parse_baseline
from tests.diff.conftest import Builder
from tests.image import imagekit as k

TEST = """
from pytest_imagebuild import Image, ImageDiff

def test_same():
    with Image.open({a!r}) as a, Image.open({b!r}) as b:
        assert a.diff(b, ignore=["mtime"]) == ImageDiff()
"""


@pytest.fixture(scope="module")
def many(base_ref: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = []
    tails = (
        "RUN true\n",
        "RUN for i in $(seq 10 69); do echo $i > /n$i; done && chmod 600 /etc/passwd\n",
    )
    for n, tail in enumerate(tails):
        context = tmp_path_factory.mktemp(f"render{n}")
        (context / "Dockerfile").write_text(f"FROM {base_ref}\n{tail}")
        tar = context / "image.tar"
        build(BuildOptions(context=str(context), no_push=True, tar_path=tar), verbose=False)
        out.append(tar)
    return out[0], out[1]


def test_assertion_message_groups_smallest_first_and_cuts(
    pytester: pytest.Pytester, many: tuple[Path, Path]
) -> None:
    pytester.makepyfile(test_same=TEST.format(a=str(many[0]), b=str(many[1])))
    result = pytester.runpytest("-p", "no:benchmark")  # a benchmark plugin warns under xdist
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *assert the images differ:",
            "E             files changed (1):",
            "E               /etc/passwd: mode: 0644 -> 0600",
            "E             config (1):",
            "E               config.created: *",
            "*use '-vv' to show",
        ]
    )
    full = pytester.runpytest("-vv", "-p", "no:benchmark")
    full.stdout.fnmatch_lines(["E               /n69 (file 0644 0:0 3 bytes)"])
    assert "more files added" not in full.stdout.str()
    # Where pytest does not cut the message itself (baseline failures), each group is cut.
    with Image.open(many[0]) as a, Image.open(many[1]) as b:
        lines = diff_lines(a.diff(b, ignore=["mtime"]), limit=10)
    assert lines[-12:] == [
        "files added (60):",
        *(f"  /n{n} (file 0644 0:0 3 bytes)" for n in range(10, 20)),
        "  ... 50 more files added (-v or -vv shows more)",
    ]


def test_baseline_text_round_trips_odd_paths(tmp_path: Path) -> None:
    odd = [
        "with space",
        "new\nline",
        "back\\slash",
        "tab\there",
        "eq=sign",
        "caf\u00e9",
        "bad\udcffbyte",
        "nbsp\u00a0x",
    ]
    entries = [k.file(name, name.encode("utf-8", "surrogateescape")) for name in odd]
    entries.append(k.symlink("link", "with space"))
    lay = k.layer(entries)
    with Image.open(
        k.docker_archive(tmp_path / "odd.tar", k.Spec([lay], k.config([lay])))
    ) as image:
        text = baseline_text(image)
        again = baseline_text(image)
    assert text == again
    assert all(len(line.split(" ")) >= 4 for line in text.splitlines()[1:] if line[0] == "/")
    assert "/new\\x0aline file" in text
    assert "/bad\\xffbyte file" in text
    assert "/link symlink 0777 0:0 -> with\\x20space" in text
    parsed = parse_baseline(text, "odd.txt")
    assert sorted(parsed.files.entries) == sorted(["/" + n for n in odd] + ["/link"])
    assert parsed.files.entries["/link"].linked_to == "with space"
    assert compare_text(text, text, "odd.txt").is_empty
    assert "/caf\u00e9 file" in text  # readable UTF-8; the file is written as UTF-8 always
    text.encode("utf-8", "strict")  # no lone surrogate left: every odd byte is escaped


def test_baseline_of_a_built_image_is_deterministic(base_ref: str, build_tar: Builder) -> None:
    df = f"FROM {base_ref}\nRUN echo x > /x\n"
    texts = []
    for _ in range(2):
        with Image.open(build_tar(df)) as image:
            texts.append(baseline_text(image))
    assert texts[0] == texts[1]
    assert "/x file 0644 0:0 size=2 sha256=" in texts[0]
