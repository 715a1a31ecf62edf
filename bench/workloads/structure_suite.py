"""A 200-test container-structure-test YAML suite on one image, and command tests.

The image: the bench busybox root plus env, labels, a port, a volume and 200 small files,
built once by the embedded executor into a tarball. Measured per run, each a fresh pytest
process in a fresh project copy: pytest's own start-up (200 plain tests), the 200-test
structure suite (file existence, file content, license and metadata tests: no command runs),
and 20 ``commandTests`` (each a sandboxed command on a throwaway overlay), first with no
unpacked root (one unpack) and then with the root already in the cache.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bases import busybox_rootfs
from buildside import Row
from infra import Env
from tools import Result, ToolError, imagebuild_command, pytest_argv, quiet, timed

NAME = "structure-suite"
REPO = Path(__file__).resolve().parent.parent.parent
PLAIN = "pytest start-up, 200 plain tests"
STATIC = "200 structure tests (files, content, licenses, metadata)"
COMMANDS_COLD = "20 commandTests, first run (one unpack)"
COMMANDS_WARM = "20 commandTests, root already unpacked"
FILES = 200

DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
COPY data/ /data/
ENV APP_HOME=/data GREETING=hello
LABEL org.example.version=1.2.3
EXPOSE 8080/tcp
VOLUME /var/cache/app
CMD ["sh"]
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _image(work: Path) -> Path:
    tar = work / "structure-image.tar"
    if tar.is_file():
        return tar
    context = work / "structure-context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(busybox_rootfs(work), context / "rootfs", symlinks=True)
    data = context / "data"
    data.mkdir()
    for i in range(FILES):
        (data / f"file-{i:03}.conf").write_text(f"name=file-{i}\nport={8000 + i}\n")
    (context / "Dockerfile").write_text(DOCKERFILE)
    quiet(
        [
            *imagebuild_command(),
            "--context",
            str(context),
            "--no-push",
            "--tar-path",
            str(tar),
        ],
        env=_env(),
    )
    return tar


def _static_yaml() -> str:
    lines = ["schemaVersion: 2.0.0", "fileExistenceTests:"]
    for i in range(110):
        lines += [
            f"  - name: exists {i}",
            f"    path: /data/file-{i:03}.conf",
            "    permissions: -rw-r--r--",
            "    uid: 0",
        ]
    lines.append("fileContentTests:")
    for i in range(80):
        lines += [
            f"  - name: content {i}",
            f"    path: /data/file-{i:03}.conf",
            f"    expectedContents: ['port={8000 + i}\\n$']",
            "    excludedContents: [debug]",
        ]
    lines.append("licenseTests:")
    for i in range(9):
        lines += [f"  - files: [/data/file-{i:03}.conf]"]
    lines += [
        "metadataTest:",
        "  envVars: [{key: GREETING, value: hello}]",
        "  exposedPorts: [8080/tcp]",
        "  volumes: [/var/cache/app]",
        "  cmd: [sh]",
    ]
    return "\n".join(lines) + "\n"


def _command_yaml() -> str:
    lines = ["schemaVersion: 2.0.0", "commandTests:"]
    for i in range(20):
        lines += [
            f"  - name: command {i}",
            "    command: sh",
            f"    args: [-c, 'cat /data/file-{i:03}.conf; touch /tmp/x']",
            f"    expectedOutput: ['port={8000 + i}']",
        ]
    return "\n".join(lines) + "\n"


def _project(work: Path, image: Path) -> Path:
    root = work / "structure-project"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    shutil.copyfile(image, root / "image.tar")
    (root / "static.yaml").write_text(_static_yaml())
    (root / "commands.yaml").write_text(_command_yaml())
    plain = "\n".join(f"def test_{i}():\n    pass\n" for i in range(200))
    (root / "test_plain.py").write_text(plain)
    (root / "tox.ini").write_text("[pytest]\n")
    return root


def rows(env: Env) -> list[Row]:
    results = {name: Result() for name in (PLAIN, STATIC, COMMANDS_COLD, COMMANDS_WARM)}
    try:
        image = _image(env.work)
    except ToolError as exc:
        for result in results.values():
            result.error = f"building the image: {exc}"
        image = None
    suites = {
        PLAIN: pytest_argv("test_plain.py"),
        STATIC: pytest_argv("--imagebuild-structure-tests", "static.yaml=image.tar"),
        COMMANDS_COLD: pytest_argv("--imagebuild-structure-tests", "commands.yaml=image.tar"),
        COMMANDS_WARM: pytest_argv("--imagebuild-structure-tests", "commands.yaml=image.tar"),
    }
    for _ in range(env.runs if image is not None else 0):
        root = _project(env.work, image)
        for name, cmd in suites.items():
            result = results[name]
            if result.error is not None:
                continue
            try:
                sample, _out = timed(cmd, cwd=root, env=_env(), timeout=600)
            except ToolError as exc:
                result.error = str(exc)
                continue
            result.samples.append(sample)
    start, static = results[PLAIN].median, results[STATIC].median
    beyond = f"beyond start-up: {static - start:.2f} s" if start and static else ""
    goals = {PLAIN: "", STATIC: "< 1 s beyond start-up", COMMANDS_COLD: "", COMMANDS_WARM: ""}
    return [
        {
            "workload": NAME,
            "measure": name,
            "tool": "pytest" if name == PLAIN else "pytest + structure tests",
            "result": result,
            "goal": goals[name],
            "note": beyond if name == STATIC else "",
        }
        for name, result in results.items()
    ]
