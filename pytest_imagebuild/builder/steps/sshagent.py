"""SSH agents for ``RUN --mount=type=ssh`` (``--ssh default|ID[=SOCKET|KEY[,KEY...]]``).

Each ``--ssh`` id names an agent socket: ``$SSH_AUTH_SOCK`` for ``default`` without paths, a
socket path as given, or key files, which are loaded into an ``ssh-agent`` that the build
starts in its own directory and stops at the end. A RUN never sees the host's socket: it gets
a socket of its own (``SocketProxy``) with the mount's mode and owner, which forwards each
connection to the agent and is closed when the command ends. Keys never enter the stage root.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from pytest_imagebuild.errors import UsageError

__all__ = ["SocketProxy", "SshAgents"]

_CHUNK = 1 << 16


class SshAgents:
    """The build's agent sockets by id; ``close()`` stops the agents it started."""

    def __init__(self, specs: tuple[tuple[str, tuple[Path, ...]], ...], work: Path) -> None:
        self.sockets: dict[str, Path] = {}
        self._agents: list[subprocess.Popen[bytes]] = []
        self._work = work
        try:
            for ident, paths in specs:
                self.sockets[ident] = self._socket_for(ident, paths)
        except BaseException:
            self.close()
            raise

    def _socket_for(self, ident: str, paths: tuple[Path, ...]) -> Path:
        if not paths:
            found = os.environ.get("SSH_AUTH_SOCK")
            if not found:
                raise UsageError(
                    f"--ssh {ident}: SSH_AUTH_SOCK is not set",
                    hint="start an agent (eval $(ssh-agent); ssh-add) or name a socket or "
                    f"key: --ssh {ident}=PATH",
                )
            paths = (Path(found),)
        if len(paths) == 1 and _is_socket(paths[0]):
            return paths[0]
        for path in paths:
            if not path.is_file():
                raise UsageError(
                    f"--ssh {ident}: {path} is neither an agent socket nor a key file",
                    hint="give the agent's socket or private key files",
                )
        return self._start_agent(ident, paths)

    def _start_agent(self, ident: str, keys: tuple[Path, ...]) -> Path:
        agent, add = shutil.which("ssh-agent"), shutil.which("ssh-add")
        if agent is None or add is None:
            raise UsageError(
                f"--ssh {ident}: key files need ssh-agent and ssh-add (openssh-client)",
                hint="install openssh-client, or give a running agent's socket",
            )
        directory = self._work / "ssh" / str(len(self._agents))
        directory.mkdir(parents=True, mode=0o700)
        sock = directory / "agent.sock"
        with _short(sock) as (address, fd):
            proc = subprocess.Popen(
                [agent, "-D", "-a", address],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=() if fd is None else (fd,),
            )
        self._agents.append(proc)
        deadline = time.monotonic() + 30
        while not _is_socket(sock):  # the socket appears once the agent listens
            if proc.poll() is not None or time.monotonic() > deadline:
                raise UsageError(
                    f"--ssh {ident}: ssh-agent did not start (exit {proc.poll()})",
                    hint="check that ssh-agent runs here, or give a running agent's socket",
                )
            time.sleep(0.01)
        with _short(sock) as (address, fd):
            env = {**os.environ, "SSH_AUTH_SOCK": address, "SSH_ASKPASS_REQUIRE": "never"}
            done = subprocess.run(
                [add, "-q", *map(str, keys)],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                pass_fds=() if fd is None else (fd,),
            )
        if done.returncode != 0:
            raise UsageError(
                f"--ssh {ident}: ssh-add could not load {', '.join(map(str, keys))}: "
                f"{done.stderr.strip() or 'exit ' + str(done.returncode)}",
                hint="keys with a passphrase must be loaded into an agent first; give its socket",
            )
        return sock

    def close(self) -> None:
        for proc in self._agents:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._agents.clear()

    def __enter__(self) -> SshAgents:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@contextlib.contextmanager
def _short(path: Path) -> Iterator[tuple[str, int | None]]:
    """A name for ``path`` that fits a socket address (108 bytes): the path itself, or
    ``/proc/self/fd/N/<name>`` through a descriptor on its directory (and that ``N``)."""
    if len(os.fsencode(path)) < 100:
        yield str(path), None
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}", fd
    finally:
        os.close(fd)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


class SocketProxy:
    """A listening socket at ``path`` (owner and mode as the mount asks) whose connections
    are forwarded to ``upstream``; ``close()`` stops it and every connection."""

    def __init__(self, path: Path, upstream: Path, *, uid: int, gid: int, mode: int) -> None:
        self.path = path
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _short(path) as (address, _):
            self._listener.bind(address)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        self._listener.listen(16)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="ssh-proxy", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._stop_r, selectors.EVENT_READ)
        pairs: dict[socket.socket, socket.socket] = {}
        try:
            while True:
                for key, _ in selector.select():
                    if key.fileobj == self._stop_r:
                        return
                    if key.fileobj is self._listener:
                        self._accept(selector, pairs)
                    else:
                        self._pump(key.fileobj, selector, pairs)  # type: ignore[arg-type]
        finally:
            for sock in list(pairs):
                sock.close()
            selector.close()

    def _accept(
        self, selector: selectors.BaseSelector, pairs: dict[socket.socket, socket.socket]
    ) -> None:
        client, _ = self._listener.accept()
        agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _short(self.upstream) as (address, _):
                agent.connect(address)
        except OSError:
            client.close()
            agent.close()
            return
        pairs[client], pairs[agent] = agent, client
        selector.register(client, selectors.EVENT_READ)
        selector.register(agent, selectors.EVENT_READ)

    @staticmethod
    def _pump(
        sock: socket.socket,
        selector: selectors.BaseSelector,
        pairs: dict[socket.socket, socket.socket],
    ) -> None:
        other = pairs[sock]
        try:
            data = sock.recv(_CHUNK)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, other):  # one side closed: close both
            selector.unregister(end)
            pairs.pop(end, None)
            end.close()

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=10)
        self._listener.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
