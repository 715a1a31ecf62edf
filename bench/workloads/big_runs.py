"""Build (2): eight small RUNs on the 700 MB / 67k-file base (issue 3).

Unpacking the base is the floor here: every builder must lay out 67k files first.
"""

from __future__ import annotations

import bases
import gen
from buildside import Row, build_rows
from infra import Env

NAME = "big-runs"
GOAL = "<= 0.8x buildah"
RUNS = """\
RUN echo one > /etc/one
RUN mkdir -p /var/app && echo two > /var/app/two
RUN rm -f /srv/a/d000/s00/f000000.txt
RUN chmod 0600 /srv/b/d000/s00/f000001.bin
RUN touch /opt/c/d000/s00/f000002.py
RUN echo 'worker:x:1001:1001::/home/worker:/bin/sh' >> /etc/passwd
RUN ln -s /srv/a /data
RUN echo eight > /tmp/eight && rm /etc/one
"""


def rows(env: Env) -> list[Row]:
    base = bases.big(env)
    ctx = env.work / "big-runs"
    dockerfile = gen.blank(ctx / "Dockerfile", f"FROM {base}\n{RUNS}")
    return build_rows(env, NAME, ctx, dockerfile, [base], GOAL)
