"""``Package`` and ``Packages``: what an image has installed, as values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["ECOSYSTEMS", "Package", "Packages", "canonical_name"]

# Lookup order of ``packages[name]`` when a name is installed by more than one ecosystem:
# the system package manager first, then language packages.
ECOSYSTEMS = ("dpkg", "apk", "rpm", "python", "npm")


@dataclass(frozen=True)
class Package:
    """One installed package. ``path`` is the database file it was read from."""

    name: str
    version: str
    ecosystem: str
    path: str
    arch: str | None = None
    source: str | None = None
    license: str | None = None

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.ecosystem})"


def _key(ecosystem: str, name: str) -> str:
    if ecosystem == "python":
        # PEP 503: "Foo_Bar", "foo-bar" and "foo.bar" are one distribution.
        return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))
    return name


def canonical_name(ecosystem: str, name: str) -> str:
    """The name as the ecosystem compares names (PEP 503 normalised for Python)."""
    return _key(ecosystem, name)


class Packages(Mapping[str, Package]):
    """Installed packages by name.

    ``packages["x"]`` is the package of that name from the first ecosystem in
    ``ECOSYSTEMS`` order (dpkg, apk, rpm, python, npm) that has one;
    ``packages.ecosystem("python")`` narrows to one ecosystem, and ``packages.all("x")``
    gives every package named x (one name may be installed by dpkg and pip, by pip into
    two site-packages, or by npm at two depths of node_modules).
    """

    def __init__(self, packages: Iterable[Package]) -> None:
        rank = {name: i for i, name in enumerate(ECOSYSTEMS)}
        self._items = tuple(
            sorted(
                packages,
                key=lambda p: (rank.get(p.ecosystem, len(rank)), p.name, p.path.count("/"), p.path),
            )
        )
        self._by_name: dict[str, Package] = {}
        self._keyed: dict[tuple[str, str], list[Package]] = {}
        for package in self._items:
            self._by_name.setdefault(package.name, package)
            self._keyed.setdefault((package.ecosystem, _key(package.ecosystem, package.name)), [])
            self._keyed[package.ecosystem, _key(package.ecosystem, package.name)].append(package)

    def __getitem__(self, name: str) -> Package:
        if name in self._by_name:
            return self._by_name[name]
        for ecosystem in ECOSYSTEMS:
            found = self._keyed.get((ecosystem, _key(ecosystem, name)))
            if found:
                return found[0]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        counts = {e: len(self.ecosystem(e)) for e in self.ecosystems}
        return f"<Packages {counts}>"

    @property
    def ecosystems(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.ecosystem for p in self._items))

    def ecosystem(self, ecosystem: str) -> Packages:
        """The packages of one ecosystem ("dpkg", "apk", "python")."""
        return Packages(p for p in self._items if p.ecosystem == ecosystem)

    def all(self, name: str) -> tuple[Package, ...]:
        """Every package of that name, across ecosystems and install locations."""
        return tuple(
            p for e in ECOSYSTEMS for p in self._keyed.get((e, _key(e, name)), [])
        ) or tuple(p for p in self._items if p.name == name)

    @property
    def every(self) -> tuple[Package, ...]:
        """Every package read, in ecosystem order, then by name and path."""
        return self._items
