"""The command's log: kaniko's ``--verbosity``, ``--log-format`` and ``--log-timestamp``, and
the kaniko flags that would change nothing here, refused with the reason."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from pytest_imagebuild.builder.dockerfile.dump import go_quote
from pytest_imagebuild.builder.log import BuildLog, LogSettings
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild
from tests.support.registry import RegistryFactory, RunningRegistry

# logrus's colored line: level, seconds since start (or the time), message padded to 44
_COLOR = re.compile(r"^\x1b\[(\d+)m([A-Z]{4})\x1b\[0m\[(\d{4}|[0-9T:Z+-]{20,25})\] (.*) $")
_TEXT = re.compile(r'^time=(\S+) level=(\w+) msg=(\S+|"(?:[^"\\]|\\.)*")$')


@pytest.fixture(scope="module")
def base(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("logbase"))[1]


def _context(tmp_path: Path, base: Path, run: str = "echo out-of-run") -> Path:
    return write_tree(
        tmp_path / "ctx",
        {"Dockerfile": f"FROM oci:{base}\nCOPY f /f\nRUN {run}\nLABEL a=<b>\n", "f": "x\n"},
    )


def _build(ctx: Path, tmp_path: Path, *args: str) -> str:
    proc = imagebuild("-c", ctx, "--no-push", "--tar-path", tmp_path / "out.tar", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_color_is_kaniko_default(base: Path, tmp_path: Path) -> None:
    lines = _build(_context(tmp_path, base), tmp_path).splitlines()
    assert "out-of-run" in lines  # RUN output as the command wrote it
    messages = [m for m in map(_COLOR.match, lines) if m]
    assert len(messages) == len(lines) - 1, lines
    assert {m[1] for m in messages} == {"36"}
    assert {m[2] for m in messages} == {"INFO"}
    assert all(re.fullmatch(r"\d{4}", m[3]) for m in messages)
    steps = [m[4].rstrip() for m in messages]
    assert "0: RUN echo out-of-run" in steps
    assert all(len(m[4]) >= 44 for m in messages)  # padded as logrus pads
    assert steps[-1].startswith("built sha256:")


def test_color_with_timestamps(base: Path, tmp_path: Path) -> None:
    lines = _build(_context(tmp_path, base), tmp_path, "--log-timestamp").splitlines()
    stamps = [m[3] for m in map(_COLOR.match, lines) if m]
    assert stamps
    for stamp in stamps:
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None


def test_text_is_logfmt(base: Path, tmp_path: Path) -> None:
    lines = _build(_context(tmp_path, base), tmp_path, "--log-format", "text").splitlines()
    assert "out-of-run" in lines
    parsed = [m for m in map(_TEXT.match, lines) if m]
    assert len(parsed) == len(lines) - 1, lines
    assert {m[2] for m in parsed} == {"info"}
    assert 'msg="0: LABEL a=<b>"' in lines[lines.index("out-of-run") + 1]
    assert parsed[0][1].startswith('"')  # logrus quotes the time: it holds colons
    datetime.fromisoformat(parsed[0][1].strip('"').replace("Z", "+00:00"))


def test_json_lines(base: Path, tmp_path: Path) -> None:
    lines = _build(_context(tmp_path, base), tmp_path, "--log-format", "json").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) == len(lines) - 1
    assert all(sorted(r) == ["level", "msg", "time"] for r in records)
    assert {r["level"] for r in records} == {"info"}
    assert "0: LABEL a=<b>" in [r["msg"] for r in records]
    assert "0: LABEL a=\\u003cb\\u003e" in "\n".join(lines)  # escaped as Go's encoder does


def test_json_errors_are_json(base: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, base, run="exit 3")
    proc = imagebuild("-c", ctx, "--no-push", "--log-format", "json")
    assert proc.returncode == 1
    last = json.loads(proc.stderr.splitlines()[-1])
    assert last["level"] == "error"
    assert "RUN returned a non-zero code: 3" in last["msg"]
    assert f"{ctx}/Dockerfile:3" in last["msg"]


def test_warn_level_hides_messages_not_output(base: Path, tmp_path: Path) -> None:
    out = _build(_context(tmp_path, base), tmp_path, "--verbosity", "warn", "--log-format", "text")
    assert out == "out-of-run\n"


def test_debug_shows_cache_decisions_and_registry_requests_without_secrets(
    base: Path, registry: RegistryFactory, tmp_path: Path
) -> None:
    reg = registry(auth="basic")
    seed = write_tree(tmp_path / "seed", {"Dockerfile": f"FROM oci:{base}\n"})
    pushed = imagebuild("-c", seed, "-d", f"{reg.host}/base:1", env=_docker_env(reg))
    assert pushed.returncode == 0, pushed.stderr
    ctx = write_tree(tmp_path / "app", {"Dockerfile": f"FROM {reg.host}/base:1\nRUN echo a\n"})
    args = ["-c", str(ctx), "--no-push", "--cache", "--cache-dir", str(tmp_path / "cache")]
    plain = ["--log-format", "plain"]
    info = imagebuild(*args, *plain, env=_docker_env(reg))
    assert info.returncode == 0, info.stderr
    assert "cache:" not in info.stderr
    assert "registry:" not in info.stderr
    debug = imagebuild(*args, *plain, "-v", "debug", env=_docker_env(reg))
    assert debug.returncode == 0, debug.stderr
    lines = debug.stderr.splitlines()
    assert any(re.fullmatch(r"cache: [0-9a-f]{64} found in .*", line) for line in lines), lines
    requests = [line for line in lines if line.startswith("registry: ")]
    assert any(re.fullmatch(rf"registry: GET http://{reg.host}/v2/base/manifests/1 -> 200", r)
               for r in requests), requests  # fmt: skip
    assert reg.password
    assert reg.password not in debug.stderr
    assert "Authorization" not in debug.stderr
    assert "token=" not in debug.stderr


def _docker_env(reg: RunningRegistry) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(reg.docker_config_dir)}


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("--force", "--force is not needed: imagebuild runs outside containers"),
        ("--cleanup", "--cleanup is not needed: imagebuild always removes its build directory"),
        ("--cleanup=true", "--cleanup is not needed"),
    ],
)
def test_flags_that_would_do_nothing_are_refused(flag: str, reason: str, tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    proc = imagebuild("-c", ctx, "--no-push", flag)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"imagebuild: error: {reason}")
    assert "hint: drop" in proc.stderr


def test_false_values_of_refused_flags_are_kaniko_defaults(tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    proc = imagebuild("-c", ctx, "--no-push", "--force=false", "--cleanup=false")
    assert proc.returncode == 0, proc.stderr


def test_timestamp_needs_a_text_format(tmp_path: Path) -> None:
    proc = imagebuild("--no-push", "--log-format", "json", "--log-timestamp")
    assert proc.returncode == 2
    assert "--log-timestamp applies to the color and text formats" in proc.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--security=insecure", "RUN --security=insecure would need privileges"),
        ("--security=lax", "RUN --security=lax is not a security mode"),
        ("--network=bridge", "RUN --network=bridge is not a network mode"),
    ],
)
def test_run_flags_without_a_meaning_here_fail(
    flags: str, message: str, base: Path, tmp_path: Path
) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Dockerfile": f"FROM oci:{base}\nRUN {flags} true\n"})
    proc = imagebuild("-c", ctx, "--no-push", "--log-format", "plain")
    assert proc.returncode == 1
    assert message in proc.stderr
    assert f"{ctx}/Dockerfile:2" in proc.stderr


def test_run_sandbox_and_host_network_run(base: Path, tmp_path: Path) -> None:
    run = "--security=sandbox --network=host echo fine"
    assert "fine\n" in _build(_context(tmp_path, base, run=run), tmp_path, "--log-format", "plain")


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\tnl\n\x00\x7f", '"tab\\tnl\\n\\x00\\x7f"'),
        ("é✓", '"é✓"'),
        ("\u200b", '"\\u200b"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_kept_log_copy_is_plain_at_every_level(tmp_path: Path) -> None:
    copy = (tmp_path / "log").open("w")
    log = BuildLog(LogSettings(level="error", format="json"), None, copy)
    log.message("a step")
    log.message("a detail", "debug")
    log.output("raw\n")
    copy.close()
    assert (tmp_path / "log").read_text() == "a step\na detail\nraw\n"
