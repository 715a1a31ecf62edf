"""Step keys: stable across processes, paths and mtimes; changed by every input."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil

import pytest

from pytest_imagebuild.builder.cache import (
    CACHE_FORMAT,
    ContextHasher,
    HashMemo,
    StepKey,
    base_key,
    step_key,
    visible_args,
)
from pytest_imagebuild.builder.context import PatternMatcher
from pytest_imagebuild.errors import ContextError
from tests.builder.cache_support import sample_key

PLATFORM = "linux/amd64"


def make_context(root):
    (root / "app" / "lib").mkdir(parents=True)
    (root / "app" / "main.py").write_text("print('hi')\n")
    (root / "app" / "lib" / "util.py").write_text("X = 1\n")
    (root / "app" / "run.sh").write_text("#!/bin/sh\n")
    (root / "app" / "run.sh").chmod(0o755)
    os.symlink("main.py", root / "app" / "entry.py")
    return root


def key(**changes):
    base = {
        "parent": base_key("sha256:" + "a" * 64, PLATFORM),
        "instruction": "RUN make install",
        "platform": PLATFORM,
        "args": {"VERSION": "1"},
        "env": ["PATH=/bin", "HOME=/root"],
        "inputs": {"src": "sha256:" + "b" * 64},
    }
    base.update(changes)
    parent, instruction = base.pop("parent"), base.pop("instruction")
    return step_key(parent, instruction, **base)


def test_same_inputs_same_key_across_processes_paths_and_mtimes(tmp_path):
    one = make_context(tmp_path / "one")
    two = tmp_path / "elsewhere" / "two"
    shutil.copytree(one, two, symlinks=True)
    for path in two.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
    here = sample_key(str(one), ["app"])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        there = pool.starmap(sample_key, [(str(one), ["app"]), (str(two), ["app"])])
    assert there == [here, here]


def test_every_input_changes_the_key():
    reference = key()
    variants = {
        "instruction": key(instruction="RUN make  install"),
        "arg value": key(args={"VERSION": "2"}),
        "new arg": key(args={"VERSION": "1", "DEBUG": "1"}),
        "env": key(env=["PATH=/bin", "HOME=/home"]),
        "file digest": key(inputs={"src": "sha256:" + "c" * 64}),
        "input label": key(inputs={"bind:/src": "sha256:" + "b" * 64}),
        "platform": key(platform="linux/arm64/v8"),
        "parent": key(parent=base_key("sha256:" + "d" * 64, PLATFORM)),
        "base platform": key(parent=base_key("sha256:" + "a" * 64, "linux/arm64/v8")),
    }
    assert reference not in variants.values()
    assert len(set(variants.values())) == len(variants)


def test_order_of_args_and_env_does_not_matter():
    assert key(env=["HOME=/root", "PATH=/bin"]) == key()
    assert key(args={"B": "2", "A": "1"}) == key(args={"A": "1", "B": "2"})
    assert key(args=["VERSION=1"]) == key()


def test_key_shape_and_chaining():
    first = key()
    second = step_key(first, "RUN true", platform=PLATFORM)
    assert len(first.hex) == 64
    assert str(first) == first.tag == first.hex
    assert second != first
    assert step_key(first, "RUN true", platform=PLATFORM) == second
    assert CACHE_FORMAT.startswith("imagebuild-cache-")
    with pytest.raises(ValueError, match="not a cache key"):
        StepKey("latest")


def test_undeclared_proxy_args_stay_out_of_keys():
    given = {"HTTP_PROXY": "http://proxy:3128", "no_proxy": "x", "VERSION": "1"}
    assert visible_args(given) == {"VERSION": "1"}
    assert visible_args(given, declared=["HTTP_PROXY"]) == {
        "HTTP_PROXY": "http://proxy:3128",
        "VERSION": "1",
    }
    assert key(args=visible_args(given)) == key()


@pytest.mark.parametrize(
    "change",
    ["content", "mode", "added file", "removed file", "link target", "renamed", "empty dir"],
)
def test_each_file_change_changes_the_digest(tmp_path, change):
    root = make_context(tmp_path / "ctx")
    hasher = ContextHasher(root)
    before = hasher.digest(["app"])
    app = root / "app"
    if change == "content":
        (app / "lib" / "util.py").write_text("X = 2\n")
    elif change == "mode":
        (app / "main.py").chmod(0o600)
    elif change == "added file":
        (app / "lib" / "new.py").write_text("")
    elif change == "removed file":
        (app / "run.sh").unlink()
    elif change == "link target":
        (app / "entry.py").unlink()
        os.symlink("run.sh", app / "entry.py")
    elif change == "renamed":
        (app / "main.py").rename(app / "Main.py")
    else:
        (app / "lib" / "empty").mkdir()
    assert hasher.digest(["app"]) != before


def test_touch_and_owner_do_not_change_the_digest(tmp_path):
    root = make_context(tmp_path / "ctx")
    hasher = ContextHasher(root)
    before = hasher.digest(["app"])
    os.utime(root / "app" / "main.py", (5, 5))
    assert hasher.digest(["app"]) == before
    assert hasher.digest(["app"], owners=True) != before  # a separate encoding


def test_sources_order_and_selection(tmp_path):
    root = make_context(tmp_path / "ctx")
    hasher = ContextHasher(root)
    both = hasher.digest(["app/main.py", "app/run.sh"])
    assert hasher.digest(["app/run.sh", "app/main.py"]) != both
    assert hasher.digest(["app/main.py"]) != both
    assert hasher.digest(["./app/main.py", "app/run.sh"]) == both
    assert hasher.digest(["app/entry.py"]) != hasher.digest(["app/main.py"])


def test_ignored_files_do_not_count(tmp_path):
    root = make_context(tmp_path / "ctx")
    ignore = PatternMatcher(["app/lib", "**/*.log", "!app/lib/keep.py"])
    hasher = ContextHasher(root, ignore=ignore)
    before = hasher.digest(["."])
    (root / "app" / "debug.log").write_text("noise")
    (root / "app" / "lib" / "util.py").write_text("ignored change")
    assert hasher.digest(["."]) == before
    (root / "app" / "lib" / "keep.py").write_text("kept")
    assert hasher.digest(["."]) != before


def test_missing_or_escaping_source_is_a_context_error(tmp_path):
    root = make_context(tmp_path / "ctx")
    (tmp_path / "outside").write_text("x")
    os.symlink("../../outside", root / "app" / "out")
    hasher = ContextHasher(root)
    with pytest.raises(ContextError, match="not found"):
        hasher.digest(["app/nope"])
    with pytest.raises(ContextError, match="outside"):
        hasher.digest(["../outside"])
    with pytest.raises(ContextError, match="links outside"):
        hasher.digest(["app/out"])


def test_memo_reuses_hashes_but_sees_changes(tmp_path):
    root = make_context(tmp_path / "ctx")
    target = root / "app" / "main.py"
    os.utime(target, (1_000_000, 1_000_000))
    memo_path = tmp_path / "memo.json"
    first = ContextHasher(root, memo=HashMemo(memo_path)).digest(["app/main.py"])
    saved = json.loads(memo_path.read_text())
    assert list(saved) == [str(target)]
    # poison the remembered hash: an unchanged file is answered from the memo
    saved[str(target)][-1] = "0" * 64
    memo_path.write_text(json.dumps(saved))
    assert ContextHasher(root, memo=HashMemo(memo_path)).digest(["app/main.py"]) != first
    # same size, same mtime, new content: ctime differs, so the file is read again
    target.write_text("print('ho')\n")
    os.utime(target, (1_000_000, 1_000_000))
    target.write_text("print('hi')\n")
    os.utime(target, (1_000_000, 1_000_000))
    assert ContextHasher(root, memo=HashMemo(memo_path)).digest(["app/main.py"]) == first


def test_recently_changed_files_are_not_memoized(tmp_path):
    root = make_context(tmp_path / "ctx")
    memo_path = tmp_path / "memo.json"
    ContextHasher(root, memo=HashMemo(memo_path)).digest(["app/main.py"])
    assert not memo_path.exists()
