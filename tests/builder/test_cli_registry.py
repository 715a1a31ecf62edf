"""The command's registry flags on real registries: pull settings and push settings kept
apart (``--skip-tls-verify-pull`` vs ``--skip-tls-verify``), ``--registry-map`` (and
``KANIKO_REGISTRY_MAP``), ``--skip-default-registry-fallback``, ``--registry-client-cert``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagebuild.builder.build import build
from pytest_imagebuild.builder.options import BuildOptions
from pytest_imagebuild.image import Image
from tests.builder.build_support import make_base, write_tree
from tests.builder.test_cli import imagebuild
from tests.support.registry import RegistryFactory, RunningRegistry


@pytest.fixture(scope="module")
def layout(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(busybox_rootfs, tmp_path_factory.mktemp("regbase"))[1]


def _seed(reg: RunningRegistry, layout: Path, tmp_path: Path, name: str = "base:1") -> str:
    """The busybox base pushed to ``reg`` as ``name``, trusting its CA."""
    ctx = write_tree(
        tmp_path / f"seed-{reg.host.replace(':', '-')}", {"Dockerfile": f"FROM oci:{layout}\n"}
    )
    certs = ((reg.host, reg.ca_path),) if reg.ca_path else ()
    client = ((reg.host, *reg.client_cert),) if reg.client_cert else ()
    build(
        BuildOptions(
            context=str(ctx),
            destinations=(f"{reg.host}/{name}",),
            registry_certificates=certs,
            client_certs=client,
            docker_config=reg.docker_config_dir,
        ),
        verbose=False,
    )
    return f"{reg.host}/{name}"


def _app(tmp_path: Path, base: str) -> Path:
    return write_tree(tmp_path / "app", {"Dockerfile": f"FROM {base}\nRUN echo app > /app\n"})


def test_tls_skip_for_pulls_is_not_for_pushes(
    registry: RegistryFactory, layout: Path, tmp_path: Path
) -> None:
    """Fault: an untrusted certificate. ``--skip-tls-verify-pull`` lets the base be pulled
    but not the image be pushed; ``--skip-tls-verify`` is the push's own setting."""
    reg = registry(tls=True)
    base = _seed(reg, layout, tmp_path)
    ctx = _app(tmp_path, base)
    dest = ("-d", f"{reg.host}/app:1", "--log-format", "plain")
    pull_only = imagebuild("-c", ctx, *dest, "--skip-tls-verify-pull")
    assert pull_only.returncode == 1
    assert "0: RUN echo app" in pull_only.stderr  # the pull worked, the build ran
    assert "certificate" in pull_only.stderr.split("imagebuild: error:")[1]
    push_only = imagebuild("-c", ctx, *dest, "--skip-tls-verify")
    assert push_only.returncode == 1
    assert "0: RUN" not in push_only.stderr  # the pull failed first
    both = imagebuild("-c", ctx, *dest, "--skip-tls-verify", "--skip-tls-verify-pull")
    assert both.returncode == 0, both.stderr
    per_registry = imagebuild("-c", ctx, *dest, "--skip-tls-verify-registry", reg.host)
    assert per_registry.returncode == 0, per_registry.stderr


def test_registry_map_sends_pulls_to_the_mirror(
    registry: RegistryFactory, layout: Path, tmp_path: Path
) -> None:
    """A base named on a registry that does not exist is pulled from its mapped mirror."""
    mirror = registry()
    _seed(mirror, layout, tmp_path, name="team/base:1")
    ctx = _app(tmp_path, "registry.invalid/team/base:1")
    out = tmp_path / "out.tar"
    args = ("-c", ctx, "--no-push", "--tar-path", out, "--log-format", "plain")
    unmapped = imagebuild(*args)
    assert unmapped.returncode == 1
    assert "registry.invalid" in unmapped.stderr
    mapped = imagebuild(*args, "--registry-map", f"registry.invalid={mirror.host}")
    assert mapped.returncode == 0, mapped.stderr
    with Image.open(out) as image:
        assert image.file("/app").read_text() == "app\n"
    by_env = imagebuild(*args, env={"KANIKO_REGISTRY_MAP": f"registry.invalid={mirror.host}"})
    assert by_env.returncode == 0, by_env.stderr


def test_skip_default_registry_fallback(
    registry: RegistryFactory, layout: Path, tmp_path: Path
) -> None:
    """A mirror without the image: the registry itself answers, unless fallback is off."""
    origin, empty = registry(), registry()
    base = _seed(origin, layout, tmp_path)
    ctx = _app(tmp_path, base)
    args = ("-c", ctx, "--no-push", "--registry-map", f"{origin.host}={empty.host}")
    fallback = imagebuild(*args)
    assert fallback.returncode == 0, fallback.stderr
    strict = imagebuild(*args, "--skip-default-registry-fallback", "--log-format", "plain")
    assert strict.returncode == 1
    assert empty.host in strict.stderr


def test_client_certificate(registry: RegistryFactory, layout: Path, tmp_path: Path) -> None:
    """A registry that requires a client certificate: refused without one, pulled and
    pushed with ``--registry-client-cert``."""
    reg = registry(tls=True, client_certs=True)
    assert reg.client_cert is not None
    assert reg.ca_path is not None
    base = _seed(reg, layout, tmp_path)
    ctx = _app(tmp_path, base)
    trust = ("--registry-certificate", f"{reg.host}={reg.ca_path}", "--log-format", "plain")
    cert, key = reg.client_cert
    without = imagebuild("-c", ctx, "-d", f"{reg.host}/app:1", *trust)
    assert without.returncode == 1
    assert reg.host in without.stderr.split("imagebuild: error:")[1]
    with_cert = imagebuild(
        "-c", ctx, "-d", f"{reg.host}/app:1", *trust,
        "--registry-client-cert", f"{reg.host}={cert},{key}",
    )  # fmt: skip
    assert with_cert.returncode == 0, with_cert.stderr


@pytest.mark.parametrize(
    "flag",
    ["--registry-client-cert=host=only-a-cert.pem", "--registry-map=nonsense"],
)
def test_malformed_registry_flags(flag: str) -> None:
    proc = imagebuild("--no-push", flag)
    assert proc.returncode == 2
    assert proc.stderr.startswith("imagebuild: error: invalid ")
    assert "hint:" in proc.stderr
