#!/bin/sh
# Serve NOTES_ROOT on NOTES_PORT; extra arguments go to httpd (-f: stay in the foreground).
exec httpd -p "${NOTES_PORT:-8080}" -h "${NOTES_ROOT:-/var/www}" -c /etc/httpd.conf "$@"
