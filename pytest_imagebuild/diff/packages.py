"""The packages section: installed packages added, removed, upgraded, downgraded or changed.

Packages are paired by ecosystem, name (PEP 503 normalised for Python) and place: the
site-packages or node_modules folder for Python and npm, where one name can be installed
twice; nothing for dpkg, apk and rpm, which keep one database per image. Versions are
ordered by the ecosystem's own rules (``packages.compare_versions``); two versions it cannot
order are a "changed" package, never a failed diff.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

from pytest_imagebuild.diff.ignore import PACKAGE_FIELDS, Rules
from pytest_imagebuild.diff.model import FieldChange, PackageChange
from pytest_imagebuild.errors import UsageError
from pytest_imagebuild.image import Image
from pytest_imagebuild.packages import ECOSYSTEMS, Package, compare_versions
from pytest_imagebuild.packages.model import canonical_name

__all__ = [
    "PackageKey",
    "compare_packages",
    "image_packages",
    "key_order",
    "keyed",
    "place",
    "source_name",
]

# (ecosystem, canonical name, place)
PackageKey = tuple[str, str, str]
RANK = {name: n for n, name in enumerate(ECOSYSTEMS)}


def place(package: Package) -> str:
    """The folder that holds the package's record, for the ecosystems that can hold one
    name twice: ``/usr/lib/python3/dist-packages``, ``/app/node_modules``."""
    path = package.path
    if package.ecosystem == "python":
        # .../site-packages/x.dist-info/METADATA, or an .egg-info that is a file
        folder = posixpath.dirname(path)
        return folder if path.endswith(".egg-info") else posixpath.dirname(folder)
    if package.ecosystem == "npm":
        folder = posixpath.dirname(posixpath.dirname(path))  # .../node_modules[/@scope]
        return posixpath.dirname(folder) if posixpath.basename(folder).startswith("@") else folder
    return ""


def keyed(packages: Iterable[Package]) -> dict[PackageKey, Package]:
    """Packages by key; of two records with one key the first is kept (``Packages``
    lists the shallowest path first)."""
    out: dict[PackageKey, Package] = {}
    for p in packages:
        out.setdefault((p.ecosystem, canonical_name(p.ecosystem, p.name), place(p)), p)
    return out


def image_packages(image: Image) -> dict[PackageKey, Package]:
    return keyed(image.packages.every)


def source_name(source: str | None) -> str | None:
    """The source package's name: rpm's ``name-version-release.src.rpm`` and dpkg's
    ``name (version)`` carry the version, which moves with every upgrade already shown."""
    if source is None:
        return None
    if source.endswith((".src.rpm", ".nosrc.rpm")):
        return source.rsplit(".", 2)[0].rsplit("-", 2)[0]
    return source.split(" (", 1)[0]


def _fields(old: Package, new: Package) -> tuple[FieldChange, ...]:
    out = []
    for name in PACKAGE_FIELDS:
        x, y = getattr(old, name), getattr(new, name)
        same = source_name(x) == source_name(y) if name == "source" else x == y
        if not same:
            out.append(FieldChange(name, x, y))
    return tuple(out)


def _kind(ecosystem: str, old: str, new: str) -> str:
    if old == new:
        return "changed"
    try:
        order = compare_versions(ecosystem, old, new)
    except UsageError:  # an unknown ecosystem, or a version that does not parse
        return "changed"
    return {-1: "upgraded", 1: "downgraded"}.get(order, "changed")


def _one(key: PackageKey, old: Package | None, new: Package | None) -> PackageChange | None:
    ecosystem, _, where = key
    if old is None and new is not None:
        return PackageChange(ecosystem, new.name, "added", None, new.version, place=where)
    if new is None and old is not None:
        return PackageChange(ecosystem, old.name, "removed", old.version, None, place=where)
    if old is None or new is None:
        return None
    fields = _fields(old, new)
    if old.version == new.version and not fields:
        return None
    kind = _kind(ecosystem, old.version, new.version)
    return PackageChange(ecosystem, new.name, kind, old.version, new.version, fields, where)


def key_order(key: PackageKey) -> tuple[int, str, str, str]:
    """Sort key: ecosystem in ``ECOSYSTEMS`` order, then name, then place."""
    return (RANK.get(key[0], len(RANK)), key[0], key[1], key[2])


def compare_packages(
    old: Mapping[PackageKey, Package], new: Mapping[PackageKey, Package], rules: Rules
) -> tuple[PackageChange, ...]:
    """Every package that differs, sorted by ecosystem (``ECOSYSTEMS`` order), name, place."""
    out = []
    for key in sorted(old.keys() | new.keys(), key=key_order):
        change = _one(key, old.get(key), new.get(key))
        if change is not None and rules.packages:
            change = rules.trim_package(change)
        if change is not None:
            out.append(change)
    return tuple(out)
