"""The merged filesystem as ``File`` values: lookup, listdir, glob, walk, per layer."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cached_property

from pytest_imagebuild.image.caps import decode_capabilities
from pytest_imagebuild.image.content import LayerData
from pytest_imagebuild.image.file import File
from pytest_imagebuild.image.layer import Layer
from pytest_imagebuild.image.merged import Node, Tree
from pytest_imagebuild.image.mode import Mode
from pytest_imagebuild.image.pathglob import compile_glob
from pytest_imagebuild.image.tarindex import Member

__all__ = ["Filesystem", "clean"]

TYPES = {
    "f": ("file", stat.S_IFREG),
    "h": ("file", stat.S_IFREG),
    "l": ("symlink", stat.S_IFLNK),
    "c": ("char", stat.S_IFCHR),
    "b": ("block", stat.S_IFBLK),
    "d": ("dir", stat.S_IFDIR),
    "p": ("fifo", stat.S_IFIFO),
}
IMPLIED = Member("", "d", 0o755, 0, 0, 0, 0, "", None, 0, None)


def clean(path: str) -> str:
    """ "/etc//passwd", "./etc/passwd", "etc/passwd" -> "etc/passwd"."""
    return "/".join(p for p in path.split("/") if p and p != ".")


class Filesystem:
    """Merged view plus per-layer entries of one image."""

    def __init__(
        self, layers: tuple[Layer, ...], members: list[list[Member]], data: list[LayerData]
    ) -> None:
        self.layers = layers
        self.members = members
        self.data = data
        self.tree = Tree()
        for i, layer_members in enumerate(members):
            self.tree.apply(i, layer_members, f"layer {layers[i].digest}")

    @cached_property
    def users(self) -> dict[int, str]:
        return self._names("etc/passwd")

    @cached_property
    def groups(self) -> dict[int, str]:
        return self._names("etc/group")

    def _names(self, path: str) -> dict[int, str]:
        _, node = self.tree.resolve(path, follow_last=True)
        names: dict[int, str] = {}
        if node is None or node.data is None:
            return names
        layer, entry = node.data
        text = self.data[layer].read(entry.offset, entry.size).decode("utf-8", "replace")
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                names.setdefault(int(fields[2]), fields[0])
        return names

    def _reader(self, data: tuple[int, Member] | None) -> Callable[[], bytes] | None:
        if data is None:
            return None
        layer, entry = data
        return lambda: self.data[layer].read(entry.offset, entry.size)

    def _hasher(self, data: tuple[int, Member] | None) -> Callable[[], str] | None:
        if data is None:
            return None
        layer, entry = data
        return lambda: self.data[layer].sha256(entry)

    def make(
        self, path: str, entry: Member | None, layer: int, content: tuple[int, Member] | None
    ) -> File:
        if entry is None:
            entry = IMPLIED
        meta = content[1] if content is not None and entry.kind == "h" else entry
        type_name, type_bits = TYPES[entry.kind]
        xattrs = dict(meta.xattrs or {})
        caps = xattrs.get("security.capability")
        return File(
            path="/" + path,
            exists=True,
            type=type_name,
            linked_to=entry.link if entry.kind == "l" else None,
            mode=Mode(type_bits | meta.mode),
            uid=meta.uid,
            gid=meta.gid,
            user=self.users.get(meta.uid),
            group=self.groups.get(meta.gid),
            size=content[1].size if content is not None else 0,
            mtime=meta.mtime,
            hasher=self._hasher(content),
            xattrs=xattrs,
            capabilities=decode_capabilities(caps) if caps is not None else None,
            layer=self.layers[layer] if layer >= 0 else None,
            reader=self._reader(content),
        )

    def _node_file(self, path: str, node: Node) -> File:
        return self.make(path, node.entry, node.layer, node.data)

    def file(self, path: str, follow: bool = False) -> File:
        asked = clean(path)
        real, node = self.tree.resolve(asked, follow_last=follow)
        if node is None:
            return File(path="/" + asked, exists=False, type="missing")
        file = self._node_file(real if follow else asked, node)
        if node.entry is not None and node.entry.kind == "l":
            _, target = self.tree.resolve(asked, follow_last=True)
            if target is not None and target.data is not None:
                file = _with_reader(file, self._reader(target.data))
        return file

    def listdir(self, path: str) -> list[str]:
        _, node = self.tree.resolve(clean(path), follow_last=True)
        if node is None:
            raise FileNotFoundError(f"{path} does not exist in the image")
        if node.children is None:
            raise NotADirectoryError(f"{path} is not a directory in the image")
        return sorted(node.children)

    def walk(self) -> Iterator[File]:
        for path, node in sorted(self.tree.walk(), key=lambda item: item[0]):
            yield self._node_file(path[1:], node)

    def glob(self, pattern: str, all_layers: bool) -> list[str]:
        match = compile_glob(pattern).fullmatch
        found = {path for path, _ in self.tree.walk() if match(path[1:])}
        if all_layers:
            names = {m.name for layer in self.members for m in layer if m.kind not in "wo"}
            for name in list(names):  # parents implied by deeper entries
                while "/" in name:
                    name = name.rpartition("/")[0]
                    names.add(name)
            found.update("/" + name for name in names if name and match(name))
        return sorted(found)

    def layer_files(self, index: int) -> list[File]:
        files = {m.name: m for m in self.members[index] if m.kind == "f"}
        out = []
        for m in self.members[index]:
            if m.kind in "wo" or not m.name:
                continue
            target = files.get(m.link) if m.kind == "h" else m if m.kind == "f" else None
            out.append(self.make(m.name, m, index, (index, target) if target else None))
        return out


def _with_reader(file: File, reader: Callable[[], bytes] | None) -> File:
    return replace(file, reader=reader)
