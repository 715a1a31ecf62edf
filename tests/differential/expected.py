"""Checks of an executor image against a hand-written ``expected.json`` (BuildKit-only cases).

    {
      "legacy": "rejects",          # docker's legacy builder must refuse the Dockerfile
      "new_layers": 2,              # layers on top of the base image
      "files": {"/path": {"type": "file", "mode": "0o644", "uid": 0, "gid": 0,
                          "content": "text\\n", "target": "link target"}},
      "absent": ["/path"],          # not in the merged view
      "config": {"env": {"K": "V"}, "cmd": [...], "healthcheck": {...}},  # env: subset
      "never_contains_file": "secret.txt"   # its bytes appear in no layer, config or history
    }

Only the attributes written down are checked, each against the documented BuildKit result.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pytest_imagebuild.image import Image


def load(case_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((case_dir / "expected.json").read_text())
    return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _file_problems(image: Image, path: str, want: dict[str, Any]) -> list[str]:
    f = image.file(path)
    if not f.exists:
        return [f"{path}: missing, expected {want}"]
    got: dict[str, Any] = {
        "type": f.type,
        "mode": oct(int(f.mode) & 0o7777),
        "uid": f.uid,
        "gid": f.gid,
        "target": f.linked_to,
    }
    if f.is_file:
        got["content"] = f.read_bytes().decode(errors="replace")
    return [
        f"{path}: {key} expected {value!r} got {got.get(key)!r}"
        for key, value in want.items()
        if got.get(key) != value
    ]


def _config_problems(image: Image, want: dict[str, Any]) -> list[str]:
    problems = []
    for key, value in want.items():
        got = _plain(getattr(image, key))
        if key == "env":
            got = {k: got.get(k) for k in value}
        if got != value:
            problems.append(f"config {key}: expected {value!r} got {got!r}")
    return problems


def _leaks(image: Image, secret: bytes) -> list[str]:
    found = []
    for index in range(len(image.layers)):
        for f in image.layer_files(index):
            if f.is_file and secret in f.read_bytes():
                found.append(f"secret bytes in layer {index} file {f.path}")
            if secret in f.path.encode():
                found.append(f"secret bytes in the path {f.path}")
    if secret in json.dumps(image.config).encode():
        found.append("secret bytes in the image config")
    for entry in image.history:
        if secret in entry.created_by.encode():
            found.append(f"secret bytes in history: {entry.created_by!r}")
    return found


def problems(image: Image, expected: dict[str, Any], base_layers: int, context: Path) -> list[str]:
    """Every way ``image`` departs from ``expected`` ('' list when it matches)."""
    found: list[str] = []
    if "new_layers" in expected:
        got = len(image.layers) - base_layers
        if got != expected["new_layers"]:
            titles = [layer.created_by for layer in image.layers[base_layers:]]
            found.append(f"new layers: expected {expected['new_layers']} got {got}: {titles}")
    for path, want in expected.get("files", {}).items():
        found += _file_problems(image, path, want)
    for path in expected.get("absent", []):
        if path in image:
            found.append(f"{path}: present, expected absent ({image.file(path).type})")
    found += _config_problems(image, expected.get("config", {}))
    if "never_contains_file" in expected:
        found += _leaks(image, (context / expected["never_contains_file"]).read_bytes())
    return found
