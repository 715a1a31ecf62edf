"""Blobs stream: pushing and pulling a 200 MB layer keeps the peak RSS far below its size.

The peak is the child's own ``VmHWM``: ``ru_maxrss`` survives exec, so a child of a large pytest
process would report its parent's peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from pytest_imagebuild.builder.blobs import BlobStore
    from pytest_imagebuild.builder.registry import (
        Registries, RegistryOptions, pull_image, push_image)
    from pytest_imagebuild.oci import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST

    def peak_kb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    host, work, size = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    store = BlobStore(work / "src")
    chunk = os.urandom(1 << 20)
    with store.writer() as w:
        for i in range(size >> 20):
            w.write(bytes([i % 256]) + chunk[1:])
    config = json.dumps({"os": "linux", "architecture": "amd64",
                         "rootfs": {"type": "layers", "diff_ids": [w.digest]}}).encode()
    cdigest = store.write_bytes(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": w.digest, "size": w.size}]}).encode()
    before = peak_kb()
    options = RegistryOptions(retries=0, env={}, docker_config=work)
    with Registries(options) as registries:
        push_image(f"{host}/big:1", store, manifest, OCI_MANIFEST, registries=registries)
        out = BlobStore(work / "out")
        pulled = pull_image(f"{host}/big:1", out, registries=registries)
    after = peak_kb()
    print(json.dumps({"before_kb": before, "after_kb": after,
                      "pulled": out.path(pulled.layers[0].digest).stat().st_size}))
    """
)


def test_memory_stays_flat_for_a_200_mb_blob(registry, tmp_path):
    reg = registry()
    size = 200 * 1024 * 1024
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, reg.host, str(tmp_path), str(size)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["pulled"] == size
    grew_mb = (result["after_kb"] - result["before_kb"]) / 1024
    assert grew_mb < 40, f"peak RSS grew by {grew_mb:.0f} MB while moving a 200 MB blob"
    assert result["after_kb"] / 1024 < 150, result
