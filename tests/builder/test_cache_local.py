"""The local cache: entries, blobs, concurrent and interrupted writers, TTL, prune."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time

import pytest

from pytest_imagebuild.builder.blobs import BlobStore
from pytest_imagebuild.builder.cache import (
    CachedLayer,
    ContextHasher,
    LayerCache,
    LocalCache,
    StepKey,
    default_cache_dir,
    parse_ttl,
)
from pytest_imagebuild.builder.cache.local import VERIFY_AGE, VERIFY_SIZE
from pytest_imagebuild.errors import ImageBuildError, UsageError
from tests.builder.cache_support import (
    lock_holder_worker,
    make_layer,
    run_step,
    slow_blob_worker,
    store_worker,
)

KEY = StepKey("1" * 64)
SPAWN = multiprocessing.get_context("spawn")


def wait_for(path, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if not process.is_alive():
            pytest.fail(f"worker exited with {process.exitcode} before {path.name}")
        if time.monotonic() > deadline:
            pytest.fail(f"worker never wrote {path.name}")
        time.sleep(0.02)


def test_put_then_get_roundtrip(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    layer = make_layer(cache.blobs, {"etc/app.conf": b"x=1\n"})
    kept = cache.put(KEY, run_step("make", layer))
    found = cache.get(KEY)
    assert found == kept
    assert found.layer == layer
    assert found.created_by == "/bin/sh -c make"
    assert abs(found.created - time.time()) < 60
    assert cache.get(StepKey("2" * 64)) is None


def test_metadata_only_entry(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    cache.put(KEY, run_step("true", None))
    assert cache.get(KEY).layer is None


def test_blob_comes_from_a_source_store_and_must_exist(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    build = BlobStore(tmp_path / "build")
    layer = make_layer(build, {"a": b"a" * 1000})
    cache.put(KEY, run_step("a", layer), source=build)
    data = cache.blobs.path(layer.digest).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == layer.digest
    missing = CachedLayer("sha256:" + "e" * 64, "sha256:" + "e" * 64, 3, layer.media_type)
    with pytest.raises(ImageBuildError, match="not in"):
        cache.put(StepKey("3" * 64), run_step("b", missing), source=build)
    assert cache.get(StepKey("3" * 64)) is None


def test_entry_without_its_blob_or_broken_is_not_trusted(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    layer = make_layer(cache.blobs, {"a": b"a"})
    cache.put(KEY, run_step("a", layer))
    cache.blobs.path(layer.digest).unlink()
    assert cache.get(KEY) is None
    other = StepKey("4" * 64)
    path = cache.entry_path(other)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"format": "imagebuild-cache-1", "key": "')  # a torn write
    assert cache.get(other) is None
    cache.put(other, run_step("b", None))
    assert cache.get(other).layer is None
    moved = StepKey("5" * 64)  # an entry copied under another key's name
    cache.entry_path(moved).parent.mkdir(parents=True, exist_ok=True)
    cache.entry_path(moved).write_bytes(path.read_bytes())
    assert cache.get(moved) is None


def test_concurrent_stores_of_one_key_leave_one_valid_entry(tmp_path):
    root = tmp_path / "cache"
    LocalCache(root)
    with SPAWN.Pool(4) as pool:
        digests = pool.starmap(store_worker, [(str(root), KEY.hex, seed) for seed in range(8)])
    cache = LocalCache(root)
    found = cache.get(KEY)
    assert found is not None
    assert found.layer.digest in digests
    entries = list((root / "entries").rglob("*"))
    assert [p.name for p in entries if p.is_file()] == [f"{KEY.hex}.json"]
    blob = cache.blobs.path(found.layer.digest).read_bytes()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == found.layer.digest


def test_killed_blob_writer_leaves_nothing_trusted(tmp_path):
    root = tmp_path / "cache"
    marker = tmp_path / "marker"
    worker = SPAWN.Process(target=slow_blob_worker, args=(str(root), str(marker)))
    worker.start()
    wait_for(marker, worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(10)
    cache = LocalCache(root)
    stray = list((root / "blobs" / "sha256").iterdir())
    assert [p.name[:5] for p in stray] == [".tmp-"]  # only the temp name, never a digest
    assert cache.usage().blobs == 0
    assert not list((root / "entries").rglob("*.json"))
    assert cache.reap() == []  # a later run removes the dead writer's temp file
    assert list((root / "blobs" / "sha256").iterdir()) == []


def test_reap_leaves_a_live_writers_temp_file_whatever_its_age(tmp_path):
    """Fault: a reap runs while another process streams a blob into the cache, its temp file
    made to look a day old. Must hold: the temp file stays while its writer lives (liveness
    is its writer's lock, not its age); once the writer is SIGKILLed a reap removes it."""
    root = tmp_path / "cache"
    marker = tmp_path / "marker"
    worker = SPAWN.Process(target=slow_blob_worker, args=(str(root), str(marker)))
    worker.start()
    try:
        wait_for(marker, worker)
        cache = LocalCache(root)
        [temp] = (root / "blobs" / "sha256").iterdir()
        day_ago = time.time() - 86400
        os.utime(temp, (day_ago, day_ago))
        assert cache.reap() == []
        cache.prune()
        assert temp.exists()
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
    assert cache.reap() == []
    assert not temp.exists()


def _damage(path):
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF  # inside the first member's content: same size, other bytes
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_damaged_blob_is_refused_when_young_or_small(tmp_path):
    """Fault: a cached blob's bytes change in place with its size kept (a write the crash
    lost, a disk fault). Must hold: a young entry (its digest checked on use) and an old
    entry with a small blob are refused and the blob removed, so the step is built again; an
    old entry with a large blob is trusted on its size alone (the cheap check)."""
    now = [time.time()]
    cache = LocalCache(tmp_path / "cache", clock=lambda: now[0])
    small = make_layer(cache.blobs, {"small": b"s" * 100})
    cache.put(KEY, run_step("small", small))
    _damage(cache.blobs.path(small.digest))
    assert cache.get(KEY) is None
    assert not cache.blobs.has(small.digest)
    big = make_layer(cache.blobs, {"big": os.urandom(VERIFY_SIZE + 1)})
    big_key = StepKey("7" * 64)
    cache.put(big_key, run_step("big", big))
    _damage(cache.blobs.path(big.digest))
    assert LocalCache(tmp_path / "cache", clock=lambda: now[0]).get(big_key) is None
    big = make_layer(cache.blobs, {"big": os.urandom(VERIFY_SIZE + 1)})
    cache.put(StepKey("8" * 64), run_step("big", big))
    small = make_layer(cache.blobs, {"small": b"t" * 100})
    cache.put(StepKey("9" * 64), run_step("small", small))
    now[0] += VERIFY_AGE + 1
    _damage(cache.blobs.path(big.digest))
    _damage(cache.blobs.path(small.digest))
    later = LocalCache(tmp_path / "cache", clock=lambda: now[0])
    assert later.get(StepKey("8" * 64)) is not None
    assert later.get(StepKey("9" * 64)) is None


def test_lock_of_a_killed_holder_is_released(tmp_path):
    root = tmp_path / "cache"
    marker = tmp_path / "marker"
    worker = SPAWN.Process(target=lock_holder_worker, args=(str(root), KEY.hex, str(marker)))
    worker.start()
    wait_for(marker, worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(10)
    cache = LocalCache(root)
    assert cache.get(KEY) is None
    cache.put(KEY, run_step("after", None))  # would hang if the lock had survived
    assert cache.get(KEY).created_by == "/bin/sh -c after"


def test_ttl_expiry(tmp_path):
    now = [1_000_000.0]
    cache = LocalCache(tmp_path / "cache", ttl=3600, clock=lambda: now[0])
    cache.put(KEY, run_step("a", None))
    now[0] += 3599
    assert cache.get(KEY) is not None
    now[0] += 2
    assert cache.get(KEY) is None
    cache.put(KEY, run_step("b", None))  # an expired entry is replaced
    assert cache.get(KEY).created_by == "/bin/sh -c b"


def test_prune_and_usage(tmp_path):
    now = [time.time()]
    cache = LocalCache(tmp_path / "cache", ttl=3600, clock=lambda: now[0])
    old = make_layer(cache.blobs, {"old": b"o" * 100})
    new = make_layer(cache.blobs, {"new": b"n" * 100})
    cache.put(KEY, run_step("old", old))
    now[0] += 3000
    cache.put(StepKey("6" * 64), run_step("new", new))
    assert cache.usage().entries == 2
    now[0] += 1000  # the first entry is now expired, and its blob past the grace period
    removed = cache.prune()
    assert (removed.entries, removed.blobs) == (1, 1)
    assert removed.bytes == old.size
    assert cache.usage().entries == 1
    assert cache.blobs.has(new.digest)
    assert not cache.blobs.has(old.digest)


def test_parse_ttl_and_default_dir(monkeypatch, tmp_path):
    assert parse_ttl("336h") == 336 * 3600
    assert parse_ttl("90m") == 5400
    with pytest.raises(UsageError, match="cache-ttl"):
        parse_ttl("two weeks")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "imagebuild"


def test_entry_file_is_plain_json(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    layer = make_layer(cache.blobs, {"a": b"a"})
    cache.put(KEY, run_step("a", layer))
    doc = json.loads(cache.entry_path(KEY).read_text())
    assert doc["key"] == KEY.hex
    assert doc["layer"]["diff_id"] == layer.diff_id


def test_holding_the_key_lock_while_storing_does_not_deadlock(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    done = []

    def build_once():
        with cache.lock(KEY):
            if cache.get(KEY) is None:
                cache.put(KEY, run_step("built", None))
            done.append(cache.get(KEY).created_by)

    thread = threading.Thread(target=build_once)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "put under the caller's own lock blocked"
    assert done == ["/bin/sh -c built"]


def test_other_threads_wait_for_the_key_lock(tmp_path):
    cache = LocalCache(tmp_path / "cache")
    order = []

    def second():
        with cache.lock(KEY):
            order.append(2)

    with cache.lock(KEY):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append(1)
    thread.join(20)
    assert order == [1, 2]


def test_layer_cache_hasher_memoizes_in_the_cache_dir(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "main.py").write_text("print(1)\n")
    os.utime(context / "main.py", (1_000_000, 1_000_000))
    with LayerCache.open(tmp_path / "cache") as cache:
        digest = cache.hasher(context).digest(["."])
    assert digest == ContextHasher(context).digest(["."])
    assert len(list((tmp_path / "cache" / "memo").glob("*.json"))) == 1
