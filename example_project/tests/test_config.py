"""The image's configuration: user, entrypoint, environment, labels, healthcheck."""

import pytest

from pytest_imagebuild import assert_env

pytestmark = pytest.mark.dockerfile("../Dockerfile")


def test_runs_as_the_server_user(image):
    assert image.user == "www"
    assert image.workdir == "/home/www"


def test_entrypoint_serves_in_the_foreground(image):
    assert image.entrypoint == ("/usr/local/bin/notes-entrypoint",)
    assert image.cmd == ("-f",)
    assert image.file("/usr/local/bin/notes-entrypoint").contains("exec httpd -p")


def test_environment(image):
    assert_env(image, {"NOTES_PORT": "8080", "NOTES_ROOT": "/var/www", "SITE_TITLE": None})


def test_labels_and_port(image):
    assert image.labels["org.opencontainers.image.title"] == "notes"
    assert image.labels["org.opencontainers.image.licenses"] == "MIT"
    assert image.exposed_ports == ("8080/tcp",)


def test_healthcheck(image):
    check = image.healthcheck
    assert check is not None
    assert check.test == ("CMD", "/usr/local/bin/notes-healthcheck")
    assert (check.interval, check.timeout, check.retries) == (30_000_000_000, 3_000_000_000, 3)
