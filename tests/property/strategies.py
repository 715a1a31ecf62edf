"""Strategies that build hostile Dockerfile text, words and ignore patterns from the pieces
the parser and expansion treat specially, mixed with arbitrary characters."""

from __future__ import annotations

from hypothesis import strategies as st

KEYWORDS = (
    "FROM", "from", "RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "ENV", "ARG", "LABEL", "EXPOSE",
    "WORKDIR", "USER", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD", "MAINTAINER",
    "NOPE",
)  # fmt: skip

WORD_PIECES = (
    "$A", "${A}", "${A", "${A:-", "${A-", "${A:+", "${A?", "${A:?", "${A#", "${A##", "${A%",
    "${A%%", "${A/", "${A//", "}", "/", "$", "$$", "${", "${}", "${:}", "$1", "'", '"', "\\",
    "`", "*", "?", "[", "]", "[!a]", "**", "..", "../", "/..", ".", "=", " ", "\t", "a", "bc",
    "\x00", "\u00e9", "\U0001f600",
)  # fmt: skip

LINE_PIECES = (
    *WORD_PIECES,
    "--from=", "--chown=", "--chmod=", "--link", "--parents", "--exclude=", "--platform=",
    "--mount=type=bind,source=", "--mount=type=cache,target=", "--mount=type=secret,id=",
    "--network=", "--interval=", "--retries=", "CMD", "NONE", "<<EOF", "<<-EOF", "<<'EOF'",
    "EOF", "[", "]", '["a"', ', "b"]', "[]", "{}", "AS", "as", "stage", "scratch", "\\\n", "\n",
    "#", "# escape=`\n",
)  # fmt: skip


def _joined(pieces: tuple[str, ...], size: int) -> st.SearchStrategy[str]:
    part = st.one_of(st.sampled_from(pieces), st.text(max_size=4))
    return st.lists(part, max_size=size).map("".join)


def words() -> st.SearchStrategy[str]:
    """One Dockerfile word with expansions, quotes and escapes."""
    return _joined(WORD_PIECES, 24)


def nested_words() -> st.SearchStrategy[str]:
    """Substitutions nested to random depths, balanced or not."""
    return st.tuples(
        st.integers(0, 3000),
        st.integers(0, 3000),
        st.sampled_from(("${A:-", "${A/", "${A#", '"${A-')),
    ).map(lambda t: t[2] * t[0] + "x" + "}" * t[1])


def lines() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(KEYWORDS), _joined(LINE_PIECES, 16)).map(" ".join)


def dockerfiles() -> st.SearchStrategy[str]:
    """Whole Dockerfiles: directives, a first FROM most of the time, then random lines."""
    head = st.sampled_from(("", "# escape=`\n", "# syntax=docker/dockerfile:1\n", "ARG A=x\n"))
    first = st.sampled_from(("FROM scratch\n", "FROM scratch AS one\n", ""))
    body = st.lists(lines(), max_size=8).map(lambda items: "\n".join(items) + "\n")
    return st.tuples(head, first, body).map("".join)


GLOB_PIECES = (
    "*", "**", "**/", "?", "[", "]", "[a-z]", "[^a]", "[!a]", "[\\]]", "\\", "\\*", "/", "!",
    ".", "..", "a", "b", "ab", "\u00e9", " ",
)  # fmt: skip


def ignore_patterns() -> st.SearchStrategy[str]:
    return _joined(GLOB_PIECES, 10)


def relative_paths() -> st.SearchStrategy[str]:
    part = st.lists(
        st.sampled_from(("a", "b", "ab", "ba", ".", "\u00e9", "a b", "*", "\udcff")),
        min_size=1,
        max_size=4,
    ).map("".join)
    return st.lists(part, min_size=1, max_size=5).map("/".join)
