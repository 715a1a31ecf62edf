"""Run RUN commands in a stage root: probe what the machine allows, then ``run``.

Modes (see docs/design/sandbox.md): ``namespaces`` (mount, pid, ipc namespaces, fresh /proc,
minimal /dev, pivot_root), ``chroot`` (root without namespaces, e.g. in a docker container under
the default seccomp profile: plain chroot, no /proc) and ``none`` (nothing works; the error says
why and what to change).
"""

from __future__ import annotations

from pytest_imagebuild.builder.sandbox.mounts import Mount
from pytest_imagebuild.builder.sandbox.probe import SandboxMode, forced, probe
from pytest_imagebuild.builder.sandbox.run import DEFAULT_PATH, SandboxTimeout, run

__all__ = ["DEFAULT_PATH", "Mount", "SandboxMode", "SandboxTimeout", "forced", "probe", "run"]
