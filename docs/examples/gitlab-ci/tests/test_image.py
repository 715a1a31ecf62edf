"""Tests of the tarball the build job kept; they run in the test job, without docker."""

from pytest_imagebuild import assert_file, assert_no_files


def test_runs_as_the_unprivileged_user(image):
    assert image.user == "app"
    assert image.entrypoint == ("/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www")
    assert image.exposed_ports == ("8080/tcp",)


def test_the_page_belongs_to_the_user(image):
    assert_file(image, "/srv/www", type="dir", mode=0o750, uid=1000, gid=1000)
    assert_file(image, "/srv/www/index.html", uid=1000, contains="built in CI")


def test_nothing_of_the_pipeline_in_the_image(image):
    assert_no_files(image, "/tests/**", "**/report.xml", "/image.tar")
