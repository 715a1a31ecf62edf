from __future__ import annotations

import stat

import pytest

from pytest_imagebuild.image import Mode


def test_mode_compares_permission_bits() -> None:
    mode = Mode(stat.S_IFREG | 0o4755)
    assert mode == 0o4755
    assert mode != 0o755
    assert mode == stat.S_IFREG | 0o4755
    assert mode != stat.S_IFDIR | 0o4755
    assert hash(mode) == hash(Mode(0o4755))


def test_mode_repr_and_perms() -> None:
    mode = Mode(stat.S_IFDIR | 0o1777)
    assert repr(mode) == "0o1777"
    assert mode.perms == 0o1777
    assert mode.type_char == "d"
    assert mode & 0o777 == 0o777


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (stat.S_IFREG | 0o4755, "-rwsr-xr-x"),
        (stat.S_IFREG | 0o4644, "-rwSr--r--"),
        (stat.S_IFREG | 0o2755, "-rwxr-sr-x"),
        (stat.S_IFREG | 0o2745, "-rwxr-Sr-x"),
        (stat.S_IFDIR | 0o1777, "drwxrwxrwt"),
        (stat.S_IFDIR | 0o1776, "drwxrwxrwT"),
        (stat.S_IFLNK | 0o777, "lrwxrwxrwx"),
        (stat.S_IFCHR | 0o666, "crw-rw-rw-"),
        (stat.S_IFBLK | 0o660, "brw-rw----"),
        (stat.S_IFIFO | 0o644, "prw-r--r--"),
        (stat.S_IFSOCK | 0o755, "srwxr-xr-x"),
        (0o4755, "-rwsr-xr-x"),
    ],
)
def test_mode_str(value: int, text: str) -> None:
    assert str(Mode(value)) == text


def test_mode_not_equal_to_other_types() -> None:
    assert Mode(0o755) != "0o755"
