#!/bin/sh
# Healthy when the server answers /healthz.
exec wget -q -O /dev/null "http://127.0.0.1:${NOTES_PORT:-8080}/healthz"
