"""What the final image holds: files, modes, owners, and nothing from the build stage."""

import pytest

from pytest_imagebuild import assert_file, assert_no_files

pytestmark = pytest.mark.dockerfile("../Dockerfile")


def test_pages_are_generated_for_every_note(image):
    assert image.listdir("/var/www") == [
        "healthz",
        "index.html",
        "running.html",
        "testing.html",
        "welcome.html",
    ]
    assert image.file("/var/www/index.html").contains('<a href="welcome.html">Welcome</a>')


def test_pages_are_world_readable_and_owned_by_root(image):
    for name in image.listdir("/var/www"):
        assert_file(image, f"/var/www/{name}", type="file", mode=0o644, user="root")


def test_scripts_are_executable(image):
    for name in ("notes-entrypoint", "notes-healthcheck"):
        assert_file(image, f"/usr/local/bin/{name}", mode=0o755, contains="#!/bin/sh")


def test_log_directory_belongs_to_the_server_user(image):
    assert_file(image, "/var/log/notes", type="dir", mode=0o750, user="www", group="www")


def test_server_user_exists_without_a_login_shell(image):
    passwd = image.file("/etc/passwd").read_text().splitlines()
    assert "www:x:1000:1000:notes web server:/home/www:/bin/false" in passwd


def test_busybox_provides_the_server(image):
    assert_file(image, "/usr/sbin/httpd", type="symlink", linked_to="/bin/busybox")
    assert_file(image, "/bin/busybox", mode=0o755, user="root")


def test_build_stage_leaves_nothing_behind(image):
    assert "/src" not in image
    assert image.glob("**/build-site.sh") == []
    assert image.glob("**/*.txt", all_layers=True) == []


def test_no_secrets_in_any_layer(image):
    assert_no_files(image, "**/*.pem", "**/*.key", "**/id_rsa*", "**/.env", "**/.git")
