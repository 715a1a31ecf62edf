"""The image store trusts only complete entries; the summary's wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_imagebuild.plugin.imagecache import ImageStore, staged_tarball
from pytest_imagebuild.plugin.summary import BuildRecord, format_size, summary_lines

KEY = "ab" + "0" * 62


def _publish(store: ImageStore, data: bytes = b"tarball") -> Path:
    with store.staging() as staged:
        staged_tarball(staged).write_bytes(data)
        entry = store.put(KEY, staged, seconds=1.5, steps=(2, 3))
    assert not staged.exists()
    return entry.tarball


def test_put_publishes_a_complete_entry(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    assert store.get(KEY) is None
    tarball = _publish(store)
    entry = store.get(KEY)
    assert entry is not None
    assert (entry.tarball, entry.size, entry.steps_cached, entry.steps_run) == (tarball, 7, 2, 3)
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    ["truncated tarball", "torn entry.json", "other key", "old format", "missing tarball"],
)
def test_damaged_entries_are_not_trusted(tmp_path: Path, damage: str) -> None:
    store = ImageStore(tmp_path)
    tarball = _publish(store)
    meta = tarball.with_name("entry.json")
    data = json.loads(meta.read_text())
    if damage == "truncated tarball":
        tarball.write_bytes(b"tar")
    elif damage == "torn entry.json":
        meta.write_text(meta.read_text()[:20])
    elif damage == "other key":
        meta.write_text(json.dumps({**data, "key": "cd" + "0" * 62}))
    elif damage == "old format":
        meta.write_text(json.dumps({**data, "format": "imagebuild-image-0"}))
    else:
        tarball.unlink()
    assert store.get(KEY) is None
    _publish(store, b"rebuilt")  # a later build replaces the broken entry
    entry = store.get(KEY)
    assert entry is not None
    assert entry.tarball.read_bytes() == b"rebuilt"


def test_abandoned_staging_is_not_an_entry_and_is_pruned(tmp_path: Path) -> None:
    """Fault: a build died with its staging directory half written (its lock file is free).
    Must hold: no entry is trusted, and the next prune removes the directory and its lock."""
    store = ImageStore(tmp_path)
    leftover = tmp_path / "tmp" / "build-dead" / "entry"
    leftover.mkdir(parents=True)
    (tmp_path / "tmp" / "build-dead.live").touch()
    (leftover / "image.tar").write_bytes(b"half")
    assert store.get(KEY) is None
    assert store.prune_temp() == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_live_staging_survives_a_prune(tmp_path: Path) -> None:
    """Fault: a prune runs while another build is staging. Must hold: its directory stays."""
    store = ImageStore(tmp_path)
    with store.staging() as staged:
        staged_tarball(staged).write_bytes(b"in progress")
        assert ImageStore(tmp_path).prune_temp() == []
        assert staged_tarball(staged).read_bytes() == b"in progress"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_young_entry_with_same_size_but_other_bytes_is_not_trusted(tmp_path: Path) -> None:
    """Fault: a young tarball's bytes were lost or changed at the same size (a crash before
    writeback). Must hold: the digest check refuses it while the entry is young."""
    store = ImageStore(tmp_path)
    tarball = _publish(store, b"tarball")
    tarball.write_bytes(b"garbage")
    assert store.get(KEY) is None


def test_summary_lines() -> None:
    records = [
        BuildRecord("a/Dockerfile", KEY, "built", 2.5, 2_100_000, 3, 1, "gw0"),
        BuildRecord("a/Dockerfile", KEY, "reused", 0.01, 2_100_000, 3, 1, "gw1"),
        BuildRecord("b/Dockerfile (target=dev)", "k2", "failed", 0.5),
    ]
    assert BuildRecord.from_dict(records[0].to_dict()) == records[0]
    assert summary_lines(records, Path("/c")) == [
        "built  a/Dockerfile [gw0]: 2.50s, 2.1 MB, steps: 3 cached, 1 run",
        "reused a/Dockerfile [gw1]: 0.01s, 2.1 MB, steps: 3 cached, 1 run",
        "failed b/Dockerfile (target=dev): 0.50s",
        "images: 1 built in 2.50s (3 steps cached), 1 reused, 1 failed; cache /c",
    ]
    assert summary_lines([], None) == []
    assert [format_size(n) for n in (12, 1500, 2_100_000, 3 * 10**9)] == [
        "12 B",
        "1.5 kB",
        "2.1 MB",
        "3.0 GB",
    ]
