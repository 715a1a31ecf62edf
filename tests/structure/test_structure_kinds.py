"""Each kind of container-structure-test, passing and failing, on an image the executor built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.structure.suites import structure_project

PASSING = """\
schemaVersion: 2.0.0
globalEnvVars:
  - key: GLOBAL
    value: from-$GREETING
fileExistenceTests:
  - name: setuid busybox
    path: /bin/busybox
    permissions: urwxr-xr-x
    uid: 0
    gid: 0
    isExecutableBy: other
  - name: config owned by app
    path: $APP_HOME/app.conf
    permissions: -rw-r--r--
    uid: 1000
    gid: 1000
  - name: sticky tmp
    path: /tmp
    permissions: dtrwxrwxrwx
    isExecutableBy: any
  - name: absent
    path: /etc/shadow-nope
    shouldExist: false
fileContentTests:
  - name: config
    path: /opt/app/app.conf
    expectedContents: ['port=\\d+\\n$', '^app config']
    excludedContents: ['debug', 'port=\\d+$']
metadataTest:
  envVars:
    - {key: GREETING, value: hello}
    - {key: APP_HOME, value: '^/opt/', isRegex: true}
  unboundEnvVars:
    - key: DEBUG
  labels:
    - {key: org.example.version, value: 1.2.3}
    - {key: maintainer, value: 't.am', isRegex: true}
  exposedPorts: [8080/tcp]
  unexposedPorts: [22/tcp]
  volumes: [/data]
  unmountedVolumes: [/var/lib]
  entrypoint: [/opt/app/app.sh]
  cmd: [serve]
  workdir: /opt/app
  user: app
  healthcheck: {test: [CMD, /bin/true], interval: 30s, timeout: 5s, retries: 3}
  stopSignal: SIGTERM
  shell: []
  onBuild: [RUN echo child]
licenseTests:
  - debian: true
    files: [/usr/share/doc/libb/copyright]
commandTests:
  - name: streams and exit code
    command: sh
    args: [-c, 'echo $GREETING $GLOBAL; env | grep ^LOCAL=; echo oops >&2; exit 3']
    envVars: [{key: LOCAL, value: '${GREETING}-local'}]
    exitCode: 3
    expectedOutput: ['^hello from-hello\\nLOCAL=hello-local\\n$']
    excludedOutput: [oops]
    expectedError: [oops]
    excludedError: [hello]
  - name: setup state reaches the command
    setup: [[sh, -c, 'echo made > /tmp/made']]
    command: cat
    args: [/tmp/made]
    teardown: [[rm, /tmp/made]]
    expectedOutput: [made]
  - name: entrypoint is not applied
    command: id
    args: [-un]
    expectedOutput: ['^app\\n$']  # Go's $ is the end of the text
  - name: earlier writes are gone
    command: ls
    args: [/tmp/made]
    exitCode: 1
"""


def test_every_kind_passes(pytester: pytest.Pytester, app_image_tar: Path) -> None:
    structure_project(pytester, app_image_tar, {"cst.yaml": PASSING})
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=11)
    result.stdout.fnmatch_lines_random(
        [
            "cst.yaml::fileExistenceTests?setuid busybox? PASSED*",
            "cst.yaml::metadataTest?metadataTest? PASSED*",
            "cst.yaml::commandTests?earlier writes are gone? PASSED*",
        ]
    )


FAILING = """\
schemaVersion: 2.0.0
fileExistenceTests:
  - name: perms
    path: /opt/app/app.conf
    permissions: -rwxr-xr-x
    uid: 0
    gid: 5
    isExecutableBy: owner
  - name: missing
    path: /opt/app/nothing
  - name: present
    path: /opt/app/app.sh
    shouldExist: false
fileContentTests:
  - name: content
    path: /opt/app/app.conf
    expectedContents: ['port=9090']
    excludedContents: ['port']
  - name: unreadable
    path: /opt/app
metadataTest:
  envVars: [{key: GREETING, value: bye}, {key: NOPE, value: x}]
  unboundEnvVars: [{key: APP_HOME}]
  labels: [{key: maintainer, value: '^x', isRegex: true}]
  exposedPorts: [9090/tcp]
  unexposedPorts: [8080/tcp]
  volumes: [/srv]
  unmountedVolumes: [/data]
  entrypoint: []
  cmd: [run]
  workdir: /srv
  user: root
  healthcheck: {interval: 10s, retries: 1}
  stopSignal: SIGKILL
  onBuild: []
licenseTests:
  - files: [/opt/app/agpl.txt]
commandTests:
  - name: command
    command: sh
    args: [-c, 'echo out; echo err >&2; exit 1']
    expectedOutput: [nothing]
    excludedOutput: [out]
    expectedError: [nothing]
    excludedError: [err]
"""


def test_every_kind_fails_with_each_mismatch(
    pytester: pytest.Pytester, app_image_tar: Path
) -> None:
    structure_project(pytester, app_image_tar, {"cst.yaml": FAILING})
    result = pytester.runpytest()
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines_random(
        [
            "fileExistenceTests 'perms' (cst.yaml:3): 4 mismatches",
            "  permissions: expected '-rwxr-xr-x', found '-rw-r--r--'",
            "  isExecutableBy: not executable by owner (-rw-r--r--)",
            "  uid: expected 0, found 1000",
            "  gid: expected 5, found 1000",
            "/opt/app/app.conf: file 0o644 (rw-r--r--) app:app * bytes",
            "  /opt/app/nothing should exist, but does not",
            "  /opt/app/app.sh should not exist, but is a file",
            "  expectedContents: 'port=9090' not found",
            "  excludedContents: 'port' found",
            "  cannot read /opt/app: it is a dir",
            "metadataTest 'metadataTest' (cst.yaml:21): 16 mismatches",
            "  env GREETING: expected 'bye', found 'hello'",
            "  env NOPE: missing",
            "  env APP_HOME: should not be set",
            "  label maintainer: expected re '^x', found 'team'",
            "  entrypoint: expected [], found ['/opt/app/app.sh']",
            "  cmd: expected ['run'], found ['serve']",
            "  onBuild: expected [], found ['RUN echo child']",
            "  workdir: expected '/srv', found '/opt/app'",
            "  user: expected 'root', found 'app'",
            "  stopSignal: expected 'SIGKILL', found 'SIGTERM'",
            "  exposedPorts: '9090/tcp' not in ['8080/tcp']",
            "  unexposedPorts: '8080/tcp' in ['8080/tcp']",
            "  volumes: '/srv' not in ['/data']",
            "  unmountedVolumes: '/data' in ['/data']",
            "  healthcheck interval: expected 10s, found 30s",
            "  healthcheck retries: expected 1, found 3",
            "  /opt/app/agpl.txt: cannot read the license file (missing)",
            "commandTests 'command' (cst.yaml:39): 5 mismatches",
            "  exitCode: expected 0, found 1",
            "  expectedOutput: 'nothing' not found",
            "  excludedOutput: 'out' found",
            "  expectedError: 'nothing' not found",
            "  excludedError: 'err' found",
            "command: ['sh', '-c', 'echo out; echo err >&2; exit 1']",
        ]
    )
    assert "Traceback" not in result.stdout.str()


AGPL_DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN mkdir -p /usr/share/doc/good /usr/share/doc/bad /usr/share/doc/nocopy \\
 && echo "Expat" > /usr/share/doc/good/copyright \\
 && echo "GNU Affero General Public License (agpl-3)" > /usr/share/doc/bad/copyright
"""


def test_license_test_flags_banned_and_missing_copyright_files(
    pytester: pytest.Pytester, busybox_rootfs_tar: Path
) -> None:
    (pytester.path / "rootfs.tar").write_bytes(busybox_rootfs_tar.read_bytes())
    (pytester.path / "Dockerfile").write_text(AGPL_DOCKERFILE)
    (pytester.path / ".dockerignore").write_text("*.yaml\n")
    (pytester.path / "lic.yaml").write_text(
        "schemaVersion: 2.0.0\nlicenseTests:\n  - debian: true\n"
    )
    pytester.makeini(
        "[pytest]\nfilterwarnings = error\nimagebuild_structure_tests = lic.yaml=Dockerfile\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "licenseTests 'licenseTests[0]' (lic.yaml:3): 2 mismatches",
            "  /usr/share/doc/bad/copyright: license contains AGPL",
            "  /usr/share/doc/nocopy/copyright: cannot read the license file (missing)",
        ]
    )
