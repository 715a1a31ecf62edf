"""The merged filesystem: layers applied in order, with whiteouts and opaque dirs.

A tree of ``Node`` objects, one per path. A later layer's entry replaces an
earlier one; a non-directory replacing a directory drops its children; a
directory implied by a deeper entry but missing from the tar is a bare node.
"""

from __future__ import annotations

from collections.abc import Iterator

from pytest_imagebuild.errors import ImageFormatError
from pytest_imagebuild.image.tarindex import Member

__all__ = ["MAX_HOPS", "Node", "Tree"]

MAX_HOPS = 40
LINKABLE = frozenset("lcbp")  # besides files, what link(2) can give a second name


class Node:
    """A path in the merged view: its entry (None for implied dirs) and layer."""

    __slots__ = ("children", "data", "entry", "layer")

    def __init__(self, entry: Member | None, layer: int, data: tuple[int, Member] | None) -> None:
        self.entry = entry
        self.layer = layer
        self.data = data  # (layer, entry) holding the content: differs for hardlinks
        self.children: dict[str, Node] | None = {} if entry is None or entry.kind == "d" else None


class Tree:
    """The merged view of a list of layer indexes."""

    def __init__(self) -> None:
        self.root = Node(None, -1, None)

    def apply(self, layer: int, members: list[Member], where: str) -> None:
        for m in members:
            if m.kind == "w":
                parent, name = self._parent(m.name, create=False)
                if parent is not None and parent.children is not None:
                    parent.children.pop(name, None)
            elif m.kind == "o":
                node = self.lookup(m.name)
                if node is not None and node.children is not None:
                    node.children.clear()
        dirs: dict[str, Node] = {}  # parent directories seen in this layer, by path
        for m in members:
            if m.kind in "wo":
                continue
            data: tuple[int, Member] | None = (layer, m) if m.kind == "f" else None
            if m.kind == "h":
                target = self.lookup(m.link)
                linked = target.entry if target is not None else None
                if target is not None and target.data is None and linked is not None:
                    if linked.kind not in LINKABLE:
                        raise ImageFormatError(
                            f"{where}: hardlink {m.name!r} points to {m.link!r}, "
                            "which is a directory"
                        )
                    m = linked._replace(name=m.name)  # the same inode: a symlink, device or fifo
                elif target is None or target.data is None:
                    raise ImageFormatError(
                        f"{where}: hardlink {m.name!r} points to {m.link!r}, "
                        "which is not in the image"
                    )
                data = target.data
            if not m.name:
                self.root.entry = m
                self.root.layer = layer
                continue
            head, _, name = m.name.rpartition("/")
            parent = dirs.get(head)
            if parent is None:
                parent, name = self._parent(m.name, create=True)
                if parent is None or parent.children is None:
                    continue
                dirs[head] = parent
            children = parent.children
            if children is None:
                continue
            old = children.get(name)
            if old is not None and old.children is not None and m.kind == "d":
                old.entry, old.layer = m, layer
            else:
                children[name] = Node(m, layer, data)
                if old is not None and old.children is not None:
                    dirs.clear()  # a directory was replaced: cached parents may be gone

    def _parent(self, path: str, create: bool) -> tuple[Node | None, str]:
        head, _, name = path.rpartition("/")
        node = self.root
        for part in head.split("/") if head else ():
            children = node.children
            if children is None:
                return None, name
            child = children.get(part)
            if child is None or child.children is None:
                if not create:
                    return None, name
                child = Node(None, -1, None)  # implied, or a non-dir shadowed by a dir
                children[part] = child
            node = child
        return node, name

    def lookup(self, path: str) -> Node | None:
        """The node at a clean path, without following symlinks."""
        node = self.root
        for part in path.split("/") if path else ():
            if node.children is None:
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def resolve(self, path: str, follow_last: bool = False) -> tuple[str, Node | None]:
        """Walk ``path`` from the root, following symlinks in the image, never above "/"."""
        todo = [p for p in path.split("/") if p and p != "."][::-1]
        parts: list[str] = []
        nodes = [self.root]
        hops = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if parts:
                    parts.pop()
                    nodes.pop()
                continue
            children = nodes[-1].children
            child = children.get(part) if children is not None else None
            if child is None:
                return "/".join([*parts, part, *todo[::-1]]), None
            entry = child.entry
            if entry is not None and entry.kind == "l" and (todo or follow_last):
                hops += 1
                if hops > MAX_HOPS:
                    return "/".join([*parts, part, *todo[::-1]]), None
                if entry.link.startswith("/"):
                    parts, nodes = [], [self.root]
                todo.extend(p for p in entry.link.split("/")[::-1] if p and p != ".")
                continue
            parts.append(part)
            nodes.append(child)
        return "/".join(parts), nodes[-1]

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every (path, node) below the root, in no particular order."""
        stack = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            for name, child in (node.children or {}).items():
                path = prefix + "/" + name
                yield path, child
                if child.children:
                    stack.append((path, child))
