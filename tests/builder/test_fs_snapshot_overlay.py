"""Snapshots of an overlay root that follow the upper directory give what a full walk gives.

A real overlay (in a private mount namespace of a child process) on a lower tree; after
each change made through the merged view, the upper-directory snapshotter and a walking
snapshotter of the same root must report the same changes and hold the same index. The
changes are the ones layers care about: new, written, chmod-ed and deleted files, deleted
and re-made directories (opaque), renamed lower directories, a directory replaced by a
file, hard links, symlinks, and then a seeded random series of them. (Renaming a lower
directory fails with EXDEV under ``redirect_dir=off``; ``mv`` then copies, and so does the test.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import json, os, random, shutil, sys
    from pathlib import Path
    from pytest_imagebuild.builder.fs.overlay import mount_overlay, private_mounts, unmount
    from pytest_imagebuild.builder.fs.snapshot import IgnoreList, Snapshotter, scan

    work, seed = Path(sys.argv[1]), int(sys.argv[2])
    assert private_mounts()
    lower, upper, ovl, merged = (work / n for n in ("lower", "upper", "work", "merged"))
    for d in (lower, upper, ovl, merged):
        d.mkdir()
    for d in range(4):
        for s in range(3):
            sub = lower / f"d{d}" / f"s{s}"
            sub.mkdir(parents=True)
            for f in range(4):
                (sub / f"f{f}").write_text(f"{d}{s}{f}")
    (lower / "etc").mkdir()
    (lower / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\\n")
    os.symlink("d0", lower / "link")
    os.link(lower / "d0" / "s0" / "f0", lower / "d0" / "hard")
    assert mount_overlay(lower, upper, ovl, merged)
    ignore = IgnoreList()
    follow = Snapshotter(merged, ignore, upper=upper, lower=lambda: scan(lower, ignore))
    walk = Snapshotter(merged, ignore)
    follow.reset()
    walk.reset()
    assert follow.index == walk.index, "reset"
    m = merged
    fixed = [
        ("new file", lambda: (m / "new").write_text("n")),
        ("write", lambda: (m / "d0/s0/f1").write_text("changed")),
        ("chmod", lambda: os.chmod(m / "d0/s1/f0", 0o600)),
        ("delete file", lambda: (m / "d1/s0/f0").unlink()),
        ("delete dir", lambda: shutil.rmtree(m / "d1/s1")),
        ("remake dir", lambda: (shutil.rmtree(m / "d2"), (m / "d2").mkdir(),
                                (m / "d2/only").write_text("o"))),
        # the kernel refuses (EXDEV) with redirect_dir=off; mv then copies, as shutil does
        ("rename lower dir", lambda: shutil.move(m / "d3/s0", m / "d3/moved")),
        ("dir to file", lambda: (shutil.rmtree(m / "d3/s1"), (m / "d3/s1").write_text("f"))),
        ("hard link", lambda: os.link(m / "d0/s2/f0", m / "d0/s2/h")),
        ("symlink", lambda: os.symlink("/etc", m / "d0/sl")),
        ("append passwd", lambda: open(m / "etc/passwd", "a").write("w:x:1:1::/:/bin/sh\\n")),
        ("delete upper-only", lambda: (m / "new").unlink()),
        ("delete copied dir", lambda: shutil.rmtree(m / "d0/s0")),
        ("touch dir", lambda: os.utime(m / "d0")),
        ("nothing", lambda: None),
    ]
    rng = random.Random(seed)

    def random_change():
        paths = sorted(str(p.relative_to(m)) for p in m.rglob("*"))
        target = m / rng.choice(paths) if paths else m
        kind = rng.choice(["write", "new", "rm", "mkdir", "chmod", "rename"])
        try:
            if kind == "write" and target.is_file() and not target.is_symlink():
                target.write_text(str(rng.random()))
            elif kind == "new":
                base = target if target.is_dir() and not target.is_symlink() else target.parent
                (base / f"n{rng.randrange(1000)}").write_text("x")
            elif kind == "rm":
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            elif kind == "mkdir":
                base = target if target.is_dir() and not target.is_symlink() else target.parent
                (base / f"m{rng.randrange(1000)}").mkdir()
            elif kind == "chmod" and not target.is_symlink():
                os.chmod(target, rng.choice([0o700, 0o755, 0o644, 0o600]))
            elif kind == "rename":
                shutil.move(target, target.parent / f"r{rng.randrange(1000)}")
        except OSError:
            pass
        return f"{kind} {target.relative_to(m) if target != m else '.'}"

    steps = [(name, do) for name, do in fixed] + [(None, None)] * 40
    report = []
    for name, do in steps:
        label = name if name else random_change()
        if do is not None:
            do()
        a, b = follow.snapshot(), walk.snapshot()
        same = (a.changed, a.deleted, a.opaque) == (b.changed, b.deleted, b.opaque)
        report.append({"step": label, "same": same and follow.index == walk.index,
                       "follow": [a.changed, a.deleted, a.opaque],
                       "walk": [b.changed, b.deleted, b.opaque]})
    unmount(merged)
    print(json.dumps(report))
    """
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_following_the_upper_directory_equals_walking_the_root(tmp_path: Path, seed: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(seed)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    differ = [r for r in report if not r["same"]]
    assert not differ, json.dumps(differ[:3], indent=1)
    assert any(r["follow"][2] for r in report), "no step made an opaque directory"
    assert any(r["follow"][1] for r in report), "no step deleted anything"
