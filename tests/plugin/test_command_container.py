"""``image.run`` as root inside a docker container under docker's default seccomp profile.

There mount namespaces are refused: the sandbox probes the chroot mode and the runner
falls back from overlayfs to a copy of the unpacked root.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.builder.container_support import run_python, skeleton_image
from tests.structure.images import app_image
from tests.support.docker import DockerDaemon

pytestmark = pytest.mark.docker

SNIPPET = """
    import json
    from pathlib import Path
    from pytest_imagebuild.image import Image
    from pytest_imagebuild.plugin.runner import SandboxRunner

    out = {}
    with Image.open("/job/image.tar") as image:
        image.runner = SandboxRunner(Path("/work/cache"))
        out["mode"] = image.runner.mode.kind
        first = image.run("id -u; echo err >&2; echo x > /opt/app/app.conf", user="root")
        second = image.run("cat /opt/app/app.conf")
        out["first"] = [first.exit_code, first.stdout_text, first.stderr_text]
        out["second"] = [second.exit_code, second.stdout_text, second.stderr_text]
        out["default"] = image.run().stdout_text
        out["views"] = sorted(image.runner.views)
        out["unpacks"] = image.runner.unpacks
    print(json.dumps(out))
"""


def test_root_in_a_default_container_runs_on_a_copy(
    docker_daemon: DockerDaemon,
    busybox_rootfs_tar: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    image = skeleton_image(docker_daemon, tmp_path)
    job = tmp_path / "job"
    job.mkdir()
    shutil.copyfile(app_image(busybox_rootfs_tar, tmp_path_factory), job / "image.tar")
    (job / "snippet.py").write_text(textwrap.dedent(SNIPPET))
    os.chmod(job, 0o755)
    done = run_python(
        docker_daemon, image, ["/job/snippet.py"], volumes={job: "/job:ro"}, timeout=180
    )
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result == {
        "mode": "chroot",
        "first": [0, "0\n", "err\n"],
        "second": [0, "app config: port=8080\n", ""],
        "default": "app serve\n",
        "views": ["copy"],
        "unpacks": 1,
    }
