"""docker's legacy builder (``DOCKER_BUILDKIT=0``) as the third column.

Docker builds inside its daemon, so the peak memory is the daemon's high-water mark
(``VmHWM``), reset before each run through ``/proc/PID/clear_refs``; the containers that
run RUN steps are not in it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tools import Sample, quiet, timed

DOCKER = "/usr/bin/docker"


class Docker:
    """A docker daemon reached through /usr/bin/docker with the legacy builder."""

    def __init__(self, host: str, pid: int | None) -> None:
        self.host = host
        self.pid = pid

    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host, DOCKER_BUILDKIT="0")

    def cmd(self, *args: str, timeout: float = 1800) -> str:
        return quiet([DOCKER, *args], env=self.env(), timeout=timeout)

    def has_image(self, ref: str) -> bool:
        proc = subprocess.run(
            [DOCKER, "image", "inspect", ref], capture_output=True, env=self.env(), check=False
        )
        return proc.returncode == 0

    def reset_peak(self) -> bool:
        if self.pid is None:
            return False
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def daemon_peak(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def run_build(
        self, context: Path, dockerfile: Path, scratch: Path, bases: Sequence[str]
    ) -> Sample:
        """Build + save; bases are removed first so docker pulls them like the others."""
        self.remove_images(bases)
        tag = f"bench-out/{scratch.name}:1"
        tracked = self.reset_peak()
        try:
            build, _ = timed(
                [
                    DOCKER,
                    "build",
                    "--quiet",
                    "--no-cache",
                    "--force-rm",
                    "-t",
                    tag,
                    "-f",
                    str(dockerfile),
                    str(context),
                ],
                env=self.env(),
            )
            save, _ = timed([DOCKER, "save", "-o", str(scratch / "out.tar"), tag], env=self.env())
            peak = self.daemon_peak() if tracked else 0
        finally:
            subprocess.run(
                [DOCKER, "rmi", "--force", tag], capture_output=True, env=self.env(), check=False
            )
        return Sample(build.seconds + save.seconds, peak)

    def remove_images(self, bases: Sequence[str]) -> None:
        """Remove ``bases`` so the next build pulls them from the registry."""
        for base in bases:  # by id: every tag goes, so the layers must come from the registry
            found = subprocess.run(
                [DOCKER, "image", "inspect", "--format", "{{.Id}}", base],
                capture_output=True,
                text=True,
                env=self.env(),
                check=False,
            )
            if found.returncode == 0:
                subprocess.run(
                    [DOCKER, "rmi", "--force", found.stdout.strip()],
                    capture_output=True,
                    env=self.env(),
                    check=False,
                )

    def info(self) -> dict[str, str]:
        return dict(json.loads(self.cmd("version", "--format", "{{json .Server}}")))
