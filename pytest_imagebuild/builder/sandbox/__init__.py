"""Run RUN commands in a stage root: probe what the machine allows, then ``run``.

Modes (see docs/design/sandbox.md): ``namespaces`` (mount, pid, ipc namespaces, fresh /proc,
minimal /dev, pivot_root), ``chroot`` (root without namespaces, e.g. in a docker container under
the default seccomp profile: plain chroot, no /proc) and ``none`` (nothing works; the error says
why and what to change).
In the chroot mode ``in_place`` stands in for mounts: it copies or moves sources into the
root for one command and takes them away again.
"""

from __future__ import annotations

from pytest_imagebuild.builder.sandbox.inplace import InPlace, copy_tree, in_place
from pytest_imagebuild.builder.sandbox.mounts import Mount
from pytest_imagebuild.builder.sandbox.probe import SandboxMode, forced, probe
from pytest_imagebuild.builder.sandbox.run import DEFAULT_PATH, SandboxTimeout, run

__all__ = [
    "DEFAULT_PATH",
    "InPlace",
    "Mount",
    "SandboxMode",
    "SandboxTimeout",
    "copy_tree",
    "forced",
    "in_place",
    "probe",
    "run",
]
