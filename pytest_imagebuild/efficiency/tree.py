"""A small path tree for replaying layers: nodes carry a payload, subtrees go at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["PathTree"]

T = TypeVar("T")


class _Node(Generic[T]):
    __slots__ = ("children", "payload")

    def __init__(self, payload: T | None) -> None:
        self.payload = payload
        self.children: dict[str, _Node[T]] = {}


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


class PathTree(Generic[T]):
    """Paths ("/a/b") to payloads; parents missing from the input are implied (payload
    None). Removing or clearing a directory hands back every payload below it."""

    def __init__(self) -> None:
        self.root: _Node[T] = _Node(None)

    def _find(self, path: str) -> _Node[T] | None:
        node = self.root
        for part in _parts(path):
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def __contains__(self, path: str) -> bool:
        return self._find(path) is not None

    def get(self, path: str) -> T | None:
        node = self._find(path)
        return None if node is None else node.payload

    def has_children(self, path: str) -> bool:
        node = self._find(path)
        return node is not None and bool(node.children)

    def ensure(self, path: str) -> None:
        """Make ``path`` and its parents exist, keeping payloads already there."""
        node = self.root
        for part in _parts(path):
            node = node.children.setdefault(part, _Node(None))

    def put(self, path: str, payload: T, keep_children: bool = True) -> None:
        """Set the payload of ``path`` (parents implied); ``keep_children=False`` drops
        what was below it, as a file replacing a directory does."""
        node = self.root
        for part in _parts(path):
            node = node.children.setdefault(part, _Node(None))
        node.payload = payload
        if not keep_children:
            node.children = {}

    def remove(self, path: str) -> list[tuple[str, T]]:
        """Delete ``path`` and everything below it; the payloads that went, deepest last."""
        parts = _parts(path)
        if not parts:
            return self.clear(path)
        parent = self._find("/".join(parts[:-1]))
        if parent is None:
            return []
        node = parent.children.pop(parts[-1], None)
        if node is None:
            return []
        gone: list[tuple[str, T | None]] = [(path, node.payload), *_below(path, node)]
        return [(p, v) for p, v in gone if v is not None]

    def clear(self, path: str) -> list[tuple[str, T]]:
        """Delete everything below ``path``, keeping ``path`` itself."""
        node = self._find(path)
        if node is None:
            return []
        gone = [(p, v) for p, v in _below(path, node) if v is not None]
        node.children = {}
        return gone

    def below(self, path: str) -> list[tuple[str, T | None]]:
        """``path`` and every node under it, implied ones with payload None."""
        node = self._find(path)
        if node is None:
            return []
        return [(path, node.payload), *_below(path, node)]

    def leaves(self) -> Iterator[tuple[str, T | None]]:
        """Nodes without children, by name at each level (byte order), the root left out."""
        stack = [("", self.root)]
        while stack:
            base, node = stack.pop()
            for name in sorted(node.children, reverse=True):
                stack.append((f"{base}/{name}", node.children[name]))
            if base and not node.children:
                yield base, node.payload

    def items(self) -> Iterator[tuple[str, T]]:
        for path, payload in _below("", self.root):
            if payload is not None:
                yield path, payload


def _below(prefix: str, node: _Node[T]) -> Iterator[tuple[str, T | None]]:
    stack = [(prefix.rstrip("/"), node)]
    while stack:
        base, current = stack.pop()
        for name, child in current.children.items():
            path = f"{base}/{name}"
            yield path, child.payload
            stack.append((path, child))
