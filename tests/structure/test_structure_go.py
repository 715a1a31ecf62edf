"""Go semantics CST files rely on: RE2 regexes, os.Expand and FileMode strings."""

from __future__ import annotations

import pytest

from pytest_imagebuild.image import File, Mode
from pytest_imagebuild.plugin.structure_go import GoRegexError, go_expand, go_mode_string, go_regex


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("port=\\d+$", "port=80\n", False),  # Go's $ is the end of the text, not of a line
        ("port=\\d+$", "port=80", True),
        ("(?m)port=\\d+$", "port=80\nx", True),
        ("port=\\d+\\n\\z", "port=80\n", True),
        ("[$]", "a$b", True),  # a $ in a class stays a literal
        ("\\$HOME", "$HOME", True),
        ("^a.c", "abc", True),
    ],
)
def test_go_regex_matches_as_go_does(pattern: str, text: str, found: bool) -> None:
    assert (go_regex(pattern).search(text) is not None) is found


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("a(?=b)", "lookahead"),
        ("(?<!x)y", "lookbehind"),
        ("(a)\\1", "backreferences"),
        ("a*+", "possessive"),
        ("\\p{Greek}", "Unicode classes"),
        ("(?U)a+", "ungreedy"),
        ("(unclosed", "not a valid regex"),
    ],
)
def test_go_regex_refuses_what_re2_rejects(pattern: str, why: str) -> None:
    with pytest.raises(GoRegexError, match=why):
        go_regex(pattern)


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$HOME/x", "/root/x"),
        ("${HOME}x", "/rootx"),
        ("$MISSING-y", "-y"),
        ("cost $ 5", "cost $ 5"),  # $ before a non-name is kept
        ("a${", "a"),  # malformed ${ is eaten, as os.Expand does
        ("${}b", "b"),
        ("$1$@", ""),
        ("end$", "end$"),
    ],
)
def test_go_expand_is_os_expand(text: str, expanded: str) -> None:
    assert go_expand(text, {"HOME": "/root"}) == expanded


def _file(kind: str, mode: int) -> File:
    return File(path="/x", exists=True, type=kind, mode=Mode(mode))


@pytest.mark.parametrize(
    ("kind", "mode", "shown"),
    [
        ("file", 0o644, "-rw-r--r--"),
        ("file", 0o4755, "urwxr-xr-x"),
        ("file", 0o2755, "grwxr-xr-x"),
        ("dir", 0o755, "drwxr-xr-x"),
        ("dir", 0o1777, "dtrwxrwxrwx"),
        ("symlink", 0o777, "Lrwxrwxrwx"),
        ("char", 0o666, "Dcrw-rw-rw-"),
        ("block", 0o660, "Drw-rw----"),
        ("fifo", 0o600, "prw-------"),
        ("socket", 0o755, "Srwxr-xr-x"),
    ],
)
def test_mode_string_is_go_filemode_string(kind: str, mode: int, shown: str) -> None:
    assert go_mode_string(_file(kind, mode)) == shown
