"""The example pipeline files validate against their schemas, and a broken copy does not.

GitHub's workflow schema and GitLab's CI schema come vendored in check-jsonschema (from
SchemaStore); the Kubernetes Job manifests are checked by kubernetes-validate against the
OpenAPI-derived schema of the newest Kubernetes release it bundles, strictly (unknown fields
are errors). No cluster is needed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
WORKFLOW = EXAMPLES / "github-actions" / "image.yml"
GITLAB_CI = EXAMPLES / "gitlab-ci" / ".gitlab-ci.yml"
GITLAB_PUSH = EXAMPLES / "gitlab-ci" / "push.gitlab-ci.yml"
JOBS = sorted((EXAMPLES / "kubernetes").glob("*.yaml"))


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-workflows", WORKFLOW),
        ("vendor.gitlab-ci", GITLAB_CI),
        ("vendor.gitlab-ci", GITLAB_PUSH),
    ],
    ids=["github-actions", "gitlab-ci", "gitlab-ci-push"],
)
def test_pipeline_files_match_their_schema(schema: str, path: Path, tmp_path: Path) -> None:
    done = check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = yaml.safe_load(path.read_text())
    jobs = broken.get("jobs", broken)
    job = next(
        value
        for value in jobs.values()
        if isinstance(value, dict) and ("script" in value or "runs-on" in value)
    )
    job["stage" if "stage" in job else "runs-on"] = {"not": "a string"}
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(broken))
    assert check_jsonschema(schema, copy).returncode == 1


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("path", JOBS, ids=[p.stem for p in JOBS])
def test_kubernetes_jobs_match_the_schema(path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for document in load_documents(path):
        assert document["kind"] == "Job"
        kubernetes_validate.validate(document, version, strict=True)
        container = document["spec"]["template"]["spec"]["containers"][0]
        container["securityContext"]["privilegd"] = False  # a typo strict mode must catch
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(document, version, strict=True)


def test_kubernetes_jobs_are_never_privileged() -> None:
    """What docs/kubernetes.md says each mode needs, and no more."""
    contexts = {}
    for path in JOBS:
        for document in load_documents(path):
            spec = document["spec"]["template"]["spec"]
            context = {
                **spec.get("securityContext", {}),
                **spec["containers"][0]["securityContext"],
            }
            assert context["privileged"] is False
            contexts[path.stem] = context
    root = contexts["build-job"]
    assert (root["runAsUser"], root["seccompProfile"]["type"]) == (0, "RuntimeDefault")
    assert root["allowPrivilegeEscalation"] is False
    assert "SYS_ADMIN" not in root["capabilities"]["add"]
    rootless = contexts["build-job-rootless"]
    assert rootless["runAsUser"] == 1001
    assert rootless["runAsNonRoot"] is True
    assert rootless["seccompProfile"]["type"] == "Unconfined"
    assert rootless["appArmorProfile"]["type"] == "Unconfined"
    assert rootless["allowPrivilegeEscalation"] is True  # newuidmap's file capabilities
    assert "capabilities" not in rootless  # the runtime's defaults, no SYS_ADMIN
