"""Registry settings for pulls and for pushes, kept apart as kaniko's flags keep them.

Pulls (bases, ``COPY --from`` images, ``--mount=from=`` images) take ``--insecure-pull``,
``--skip-tls-verify-pull``, the mirrors and ``--registry-map``; pushes and the shared layer
cache (``--cache-repo``) take ``--insecure`` and ``--skip-tls-verify``. The per-registry
flags (``--insecure-registry``, ``--skip-tls-verify-registry``, ``--registry-certificate``,
``--registry-client-cert``) and the credentials apply to both.
"""

from __future__ import annotations

from pytest_imagebuild.builder import registry
from pytest_imagebuild.builder.options import BuildOptions

__all__ = ["pull_options", "push_options"]


def _common(options: BuildOptions) -> dict[str, object]:
    return {
        "insecure_registries": frozenset(options.insecure_registries),
        "skip_tls_verify_registries": frozenset(options.skip_tls_verify_registries),
        "certificates": dict(options.registry_certificates),
        "client_certificates": {host: (cert, key) for host, cert, key in options.client_certs},
        "docker_config": options.docker_config,
        "push_retries": options.push_retries,
        "pull_retries": options.pull_retries,
    }


def pull_options(options: BuildOptions) -> registry.RegistryOptions:
    return registry.RegistryOptions(
        insecure=options.insecure_pull,
        skip_tls_verify=options.skip_tls_verify_pull,
        mirrors=options.registry_mirrors,
        registry_map=dict(options.registry_map),
        skip_default_registry_fallback=options.skip_default_registry_fallback,
        **_common(options),  # type: ignore[arg-type]
    )


def push_options(options: BuildOptions) -> registry.RegistryOptions:
    return registry.RegistryOptions(
        insecure=options.insecure,
        skip_tls_verify=options.skip_tls_verify,
        **_common(options),  # type: ignore[arg-type]
    )
