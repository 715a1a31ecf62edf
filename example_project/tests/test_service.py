"""The service itself: the image started on a docker daemon and asked over HTTP.

This is the one module that needs a daemon (the ``[docker]`` extra and DOCKER_HOST or the
default socket); without one it fails and says which address it tried. ``pytest -m "not
docker"`` runs the rest, which need none.
"""

import urllib.request

import pytest

pytestmark = [pytest.mark.dockerfile("../Dockerfile"), pytest.mark.docker]


def fetch(notes, path):
    host, port = notes.get_container_host_ip(), notes.get_exposed_port(8080)
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read().decode()


def test_serves_the_pages(image_container):
    notes = image_container(ports=[8080], wait_for_http="/healthz", timeout=60)
    status, kind, page = fetch(notes, "/")
    assert status == 200
    assert kind.startswith("text/html")  # from config/httpd.conf
    assert "<h1>Notes</h1>" in page
    assert '<a href="welcome.html">' in page


def test_listens_on_the_port_it_is_given(image_container):
    notes = image_container(ports=[9090], env={"NOTES_PORT": "9090"}, wait_for_http="/healthz")
    host, port = notes.get_container_host_ip(), notes.get_exposed_port(9090)
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=10) as answer:
        assert answer.read() == b"ok\n"
