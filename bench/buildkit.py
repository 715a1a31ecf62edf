"""BuildKit (``buildkitd`` and ``buildctl``) as a column, where both are on PATH.

Each measured series gets a daemon of its own with a fresh state directory, started before
the clock and stopped after the series: a cold build pulls its bases from the loopback
registry, and a warm build keeps only the cache of the builds before it in the same series.
The time covers ``buildctl build`` with the Dockerfile frontend built into buildkitd and a
docker-archive tarball as output, as the other tools write. Peak memory is buildkitd's own
``VmHWM`` (the RUN containers it starts are other processes), reset before each build.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tools import Sample, ToolError, timed

ABSENT = "not measured: no buildkitd and buildctl on PATH"


def missing() -> str | None:
    """Why BuildKit cannot run here, or None when it can."""
    if shutil.which("buildkitd") is None or shutil.which("buildctl") is None:
        return ABSENT
    return None


def version() -> str:
    """``BuildKit <version>`` for the table's header, or that it is absent."""
    if missing() is not None:
        return "no BuildKit"
    proc = subprocess.run(
        ["buildkitd", "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    words = proc.stdout.split()  # "buildkitd github.com/moby/buildkit VERSION [REVISION]"
    return "BuildKit " + " ".join(words[2:4]) if len(words) >= 3 else "BuildKit ?"


class BuildKit:
    """One buildkitd with its state under ``scratch``, for the registry at ``registry``."""

    def __init__(self, scratch: Path, registry: str) -> None:
        self.scratch = scratch
        self.registry = registry
        self._sockdir = Path(tempfile.mkdtemp(prefix="bench-bk-"))  # unix socket paths are short
        self.address = f"unix://{self._sockdir}/buildkitd.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BuildKit:
        config = self.scratch / "buildkitd.toml"
        config.write_text(f'[registry."{self.registry}"]\n  http = true\n  insecure = true\n')
        log = (self.scratch / "buildkitd.log").open("wb")
        self._proc = subprocess.Popen(
            [
                "buildkitd",
                "--root",
                str(self.scratch / "buildkit"),
                "--addr",
                self.address,
                "--config",
                str(config),
                "--oci-worker=true",
                "--containerd-worker=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ToolError(f"buildkitd exited {self._proc.returncode}: see {config.parent}")
            probe = subprocess.run(
                ["buildctl", "--addr", self.address, "debug", "workers"],
                capture_output=True,
                timeout=30,
                check=False,
            )
            if probe.returncode == 0:
                return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise ToolError("buildkitd did not answer within 60 s")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._sockdir, ignore_errors=True)

    def _peak_kb(self) -> int:
        if self._proc is None:
            return 0
        for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def build(self, context: Path, dockerfile: Path, out: Path) -> Sample:
        """One build into the docker-archive tarball ``out``."""
        if self._proc is None:
            raise ToolError("buildkitd is not running")
        Path(f"/proc/{self._proc.pid}/clear_refs").write_text("5")  # reset VmHWM
        out.unlink(missing_ok=True)
        sample, _ = timed(
            [
                "buildctl",
                "--addr",
                self.address,
                "build",
                "--frontend",
                "dockerfile.v0",
                "--local",
                f"context={context}",
                "--local",
                f"dockerfile={dockerfile.parent}",
                "--opt",
                f"filename={dockerfile.name}",
                "--output",
                f"type=docker,name=bench-out/{self.scratch.name.lower()}:1,dest={out}",
            ]
        )
        return Sample(sample.seconds, self._peak_kb())


def build_once(context: Path, dockerfile: Path, scratch: Path, registry: str) -> Sample:
    """A cold build: a fresh daemon, its state removed afterwards."""
    with BuildKit(scratch, registry) as kit:
        return kit.build(context, dockerfile, scratch / "out.tar")
