from __future__ import annotations

import pytest

from pytest_imagebuild.image.pathglob import compile_glob


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("etc/*", "etc/passwd", True),
        ("etc/*", "etc/ssl/certs", False),
        ("/etc/*", "etc/passwd", True),
        ("**/id_rsa", "id_rsa", True),
        ("**/id_rsa", "root/.ssh/id_rsa", True),
        ("**/id_rsa", "root/.ssh/id_rsa.pub", False),
        ("usr/**", "usr/lib/x/y", True),
        ("usr/**/*.so", "usr/lib/libc.so", True),
        ("usr/**/*.so", "usr/libc.so", True),
        ("bin/?s", "bin/ls", True),
        ("bin/?s", "bin/lss", False),
        ("bin/[lc]s", "bin/cs", True),
        ("bin/[!l]s", "bin/ls", False),
        ("a.b", "axb", False),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert (compile_glob(pattern).fullmatch(path) is not None) is matches
