"""``Mode``: an int holding file type and permission bits, shown like ``ls -l``."""

from __future__ import annotations

import stat

__all__ = ["Mode"]

TYPE_CHARS = {
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFIFO: "p",
    stat.S_IFSOCK: "s",
    stat.S_IFREG: "-",
}
PERMS = 0o7777


class Mode(int):
    """File mode. ``Mode == 0o4755`` compares permission bits (incl. setuid/setgid/sticky);
    comparing with a value that has file type bits compares the whole mode."""

    __slots__ = ()

    @property
    def perms(self) -> int:
        """The permission bits, 0o7777 at most."""
        return int(self) & PERMS

    @property
    def type_char(self) -> str:
        """ "-", "d", "l", "c", "b", "p" or "s" (as ``ls -l`` shows it)."""
        return TYPE_CHARS.get(stat.S_IFMT(int(self)), "?")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mode):
            return int(self) == int(other)
        if isinstance(other, int) and not isinstance(other, bool):
            if other > PERMS:
                return int(self) == other
            return self.perms == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.perms)

    def __repr__(self) -> str:
        return f"0o{self.perms:o}"

    def __str__(self) -> str:
        value = int(self)
        return stat.filemode(value if stat.S_IFMT(value) else stat.S_IFREG | value)
