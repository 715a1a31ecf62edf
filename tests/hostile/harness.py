"""Run one hostile build in a child process, as root or as an unprivileged user, and check
what must hold whatever the input: the project's error (with file, line and hint) or an
image; no Python traceback; no write outside the build directory (a canary directory
that links point at, and the context, are unchanged); no canary bytes in the image; no
process left in the build's session; no directory left in the build root.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_imagebuild.image import Image
from tests.builder import rootless

CANARY = "canary-secret-5b1e77"
USERS = ["root", "rootless"]

SNIPPET = """
import json, sys
from pathlib import Path
from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.errors import ImageBuildError

context, out, root, extra = sys.argv[1:5]
more = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(extra).items()}
try:
    result = build(
        BuildOptions(
            context=context, no_push=True, tar_path=Path(out), build_root=Path(root), **more
        ),
        verbose=False,
    )
    print(json.dumps({"skipped": list(result.skipped)}))
except ImageBuildError as exc:
    print(json.dumps({
        "error": str(exc), "kind": type(exc).__name__,
        "location": str(exc.location) if exc.location else None, "hint": exc.hint,
    }))
"""


@dataclass
class Outcome:
    """What one build ended in: an error (its text, location, hint) or an image."""

    error: str | None
    kind: str | None
    location: str | None
    hint: str | None
    image: Path | None
    skipped: list[str]
    stderr: str


def tree_state(path: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry below ``path`` (not following links): mode, size, content digest."""
    state: dict[str, tuple[int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            digest = ""
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            elif os.path.islink(full):
                digest = os.readlink(full)
            state[os.path.relpath(full, path)] = (st.st_mode, st.st_size, digest)
    return state


def make_canary(tmp_path: Path) -> Path:
    """A host directory holding a secret, for links in contexts and archives to aim at."""
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "secret").write_text(CANARY + "\n")
    (host / "etc" / "passwd").write_text(CANARY + " passwd\n")
    return host


def _session_processes(sid: int) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:  # field 6 of stat: the session id
            found.append(f"{entry} {stat.split('(', 1)[1].split(')', 1)[0]}")
    return found


def workspace(tmp_path: Path, user: str) -> Path:
    """A directory for one case that ``user`` can use (root's tmp_path is private)."""
    if user == "root":
        return tmp_path
    return rootless.user_dir(rootless.ensure_user(rootless.FULL_USER, subids=True))


def attempt(
    context: Path,
    dockerfile: str | bytes,
    work: Path,
    user: str,
    canary: Path | None = None,
    options: dict[str, Any] | None = None,
) -> Outcome:
    """Build ``dockerfile`` in ``context`` as ``user`` ("root" or "rootless"); check the
    invariants that hold for every outcome; return the outcome for case checks."""
    data = dockerfile.encode() if isinstance(dockerfile, str) else dockerfile
    (context / "Dockerfile").write_bytes(data)
    work.mkdir(parents=True, exist_ok=True)
    before_context = tree_state(context)
    before_canary = tree_state(canary) if canary is not None else {}
    argv_tail = [
        str(context),
        str(work / "out.tar"),
        str(work / "builds"),
        json.dumps(options or {}),
    ]
    env = dict(os.environ, PYTHONPATH=str(rootless.REPO))
    cmd = [sys.executable, "-c", SNIPPET, *argv_tail]
    if user == "rootless":
        who = rootless.ensure_user(rootless.FULL_USER, subids=True)
        rootless.chown_tree(work, who)
        rootless.chown_tree(context, who)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": rootless.project_path(),
            "LANG": "C.UTF-8",
            "HOME": str(work),
        }
        cmd = [
            "setpriv",
            f"--reuid={who.uid}",
            f"--regid={who.gid}",
            "--init-groups",
            rootless.SYSTEM_PYTHON,
            "-c",
            SNIPPET,
            *argv_tail,
        ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=work,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = _session_processes(proc.pid)
    assert left == [], f"processes survived the build: {left}"
    assert "Traceback" not in err, err
    assert proc.returncode == 0, f"build process failed:\n{err}"
    assert out.strip(), f"build process printed nothing:\n{err}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    leftovers = (
        sorted(p.name for p in (work / "builds").iterdir()) if (work / "builds").exists() else []
    )
    assert leftovers == [], f"left in the build root: {leftovers}"
    assert tree_state(context) == before_context, "the context changed"
    if canary is not None:
        assert tree_state(canary) == before_canary, "the canary directory changed"
    image = work / "out.tar"
    outcome = Outcome(
        result.get("error"),
        result.get("kind"),
        result.get("location"),
        result.get("hint"),
        image if "error" not in result else None,
        list(result.get("skipped", [])),
        err,
    )
    if outcome.error is not None:
        assert not image.exists(), "a failed build left its output"
        assert CANARY not in outcome.error
    else:
        assert_no_canary(image)
    return outcome


def assert_no_canary(image: Path) -> None:
    with Image.open(image) as opened:
        leaked = [f.path for f in opened.walk() if f.is_file and f.contains(CANARY)]
    assert leaked == [], f"host bytes in the image: {leaked}"


def assert_located_error(outcome: Outcome, *needles: str) -> None:
    """The build failed with the project's error, pointing at a Dockerfile line, with a hint
    when the error kind carries one."""
    assert outcome.error is not None, "the build succeeded"
    assert outcome.location is not None, outcome.error
    assert "Dockerfile" in outcome.location, outcome.error
    for needle in needles:
        assert needle in outcome.error, outcome.error


def matrix(cases: list[Any], rootless_too: set[Any]) -> list[tuple[str, Any]]:
    """(user, case) pairs: every case as root, the listed ones also as the unprivileged
    user (for ``@pytest.mark.parametrize(("user", "case"), ...)``, which overrides the
    ``user`` fixture)."""
    pairs = [("root", c) for c in cases]
    return pairs + [("rootless", c) for c in cases if c in rootless_too]
