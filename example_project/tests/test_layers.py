"""Layers: how many, in which order, and which instruction added a path."""

import re

import pytest

from pytest_imagebuild import assert_layers

pytestmark = pytest.mark.dockerfile("../Dockerfile")


def test_layer_order(image):
    # One substring (or compiled regex) per layer, oldest first.
    assert_layers(
        image,
        count=6,
        created_by=[
            "ADD file:",
            "echo 'www:x:1000",
            "in /etc/httpd.conf",
            "in /usr/local/bin/notes-entrypoint",
            "in /usr/local/bin/notes-healthcheck",
            re.compile(r"COPY dir:[0-9a-f]{64} in /var/www/"),
        ],
    )


def test_pages_come_from_the_last_layer(image):
    layer = image.file("/var/www/index.html").layer
    assert layer is not None
    assert layer.index == len(image.layers) - 1
    assert "COPY dir:" in layer.created_by


@pytest.mark.xfail(strict=True, reason="shows the message for a wrong mode")
def test_deliberately_wrong_mode(image):
    # The pages are 0644; the failure message shows both modes and the layer behind them.
    assert image.file("/var/www/index.html").mode == 0o600
