"""Word expansion beyond the conformance data: patterns, replacement, escapes, heredocs."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import expand_heredoc, expand_word, split_words
from pytest_imagebuild.errors import DockerfileError

ENV = {"P": "/usr/local/bin/tool.tar.gz", "E": "", "S": "a b", "W": "a*b"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${P#*/}", "usr/local/bin/tool.tar.gz"),
        ("${P##*/}", "tool.tar.gz"),
        ("${P%.*}", "/usr/local/bin/tool.tar"),
        ("${P%%.*}", "/usr/local/bin/tool"),
        ("${P#/usr}", "/local/bin/tool.tar.gz"),
        ("${P%?z}", "/usr/local/bin/tool.tar."),
        ("${W#a\\*}", "b"),
        ("${W#a\\?}", "a*b"),
        ("${P/local/opt}", "/usr/opt/bin/tool.tar.gz"),
        ("${P//\\//_}", "_usr_local_bin_tool.tar.gz"),
        ("${P/l*l/L}", "/usr/L.tar.gz"),
        ("${P/nomatch/x}", "/usr/local/bin/tool.tar.gz"),
        ("${P/local}", "/usr//bin/tool.tar.gz"),
        ("${UNSET/a/b}", ""),
        ("${S/ /$E}", "ab"),
        ("${E-dflt}", ""),
        ("${E:-dflt}", "dflt"),
        ("${UNSET-dflt}", "dflt"),
        ("${E+alt}", "alt"),
        ("${E:+alt}", ""),
        ("${UNSET+alt}", ""),
        ("${E?msg}", ""),
        ("x${S}y", "xa by"),
        ("'$S'\"$S\"\\$S", "$Sa b$S"),
    ],
)
def test_expand_word(word: str, expected: str) -> None:
    assert expand_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "fragment"),
    [
        ("${UNSET?must be set}", "UNSET: must be set"),
        ("${E:?}", "E: is not allowed to be empty"),
        ("${UNSET:?}", "is not allowed to be unset"),
        ("${P:#x}", "unsupported modifier (:#)"),
        ("${P=x}", "unsupported modifier (=)"),
        ("${P#\\x}", "invalid escape"),
        ("${P", "missing '}'"),
        ("${}", "bad substitution"),
        ("'open", "single-quote"),
        ('"open', "double-quote"),
    ],
)
def test_expand_errors(word: str, fragment: str) -> None:
    with pytest.raises(DockerfileError) as info:
        expand_word(word, ENV)
    assert fragment in info.value.message
    assert info.value.location is None


def test_split_words() -> None:
    assert split_words("a $S 'c d' \"$S\"", ENV) == ["a", "a", "b", "c d", "a b"]
    assert split_words("  ", ENV) == []
    assert split_words("x\\ y z", ENV) == ["x y", "z"]


def test_backtick_escape() -> None:
    assert expand_word("C:\\dir`$P", ENV, "`") == "C:\\dir$P"
    assert expand_word('"a`"b"', ENV, "`") == 'a"b'
    assert split_words("a` b c", ENV, "`") == ["a b", "c"]


def test_replacement_is_literal() -> None:
    assert expand_word("${S/a/[&]\\\\1}", ENV) == "[&]\\\\1 b"


def test_heredoc_body_keeps_quotes_and_expands() -> None:
    body = "echo \"$S\" '$S' \\$S\n${E:-none}\n"
    assert expand_heredoc(body, ENV) == "echo \"a b\" 'a b' $S\nnone\n"
