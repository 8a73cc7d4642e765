"""A real link to cut: two network namespaces joined by a veth pair (Linux, root only).

::

    with VethLink() as link:                       # namespaces, veth, addresses: all its own
        server = link.spawn("a", ["rtcstate", "serve", "--host", link.address("a"), ...])
        client = link.spawn("b", ["rtcstate", "join", f"ws://{link.address('a')}:7880", ...])
        link.down(); ...; link.up()
    # both namespaces (and with them the veth pair and every address) are gone again

Nothing here touches the machine's own interfaces: the two ends live in namespaces that the
context creates and deletes, with addresses from 10.231.0.0/16 that exist only inside them.
Spawned processes see ``CLOCK_MONOTONIC`` like every other process, so their ``StateChange.at``
(asyncio's clock) compares with ``time.monotonic()`` here.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, Self

__all__ = ["LineReader", "VethLink", "netns_unavailable"]

End = Literal["a", "b"]


def netns_unavailable() -> str | None:
    """Why :class:`VethLink` cannot run here (``None`` if it can): a reason for ``skip``."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces and veth links need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    return None


class LineReader:
    """A process's stdout, line by line, readable with deadlines (a thread fills a queue)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def close(self) -> None:
        """Terminate the process (kill it after 5 s) and close its pipes."""
        process = self.process
        if process.stdin is not None:
            process.stdin.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def expect(self, matches: Callable[[str], bool], within: float) -> str:
        """The next line that ``matches``, waiting ``within`` seconds at most.

        Raises:
            TimeoutError: none came in time (or the process ended first).
        """
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)
                break
            self.lines.append(line)
            if matches(line):
                return line
        raise TimeoutError(f"no matching line within {within} s; saw: {self.lines[-10:]}")

    def expect_change(self, machine: str, dest: str, within: float) -> dict[str, Any]:
        """The next state change (a ``--json`` line of ``rtcstate join``) of a ``machine``
        into ``dest``, parsed.

        Raises:
            TimeoutError: none came in time.
        """
        return _change(self.expect(
            lambda line: _change(line).get("machine") == machine
            and _change(line).get("dest") == dest, within))


class VethLink:
    """Namespaces ``a`` and ``b`` joined by one veth link, created on enter, deleted on exit.

    Args:
        tag: makes the names unique (default: this process's id).
        subnet: the third octet of 10.231.X.0/30 (``a`` is .1, ``b`` is .2).
    """

    def __init__(self, tag: str | None = None, subnet: int = 0) -> None:
        tag = tag or str(os.getpid())
        self.namespaces = {"a": f"rtcs{tag}a", "b": f"rtcs{tag}b"}
        self.interfaces = {"a": f"rtcs{tag}a0", "b": f"rtcs{tag}b0"}
        self._subnet = subnet
        self._readers: list[LineReader] = []

    def address(self, end: End) -> str:
        """The IPv4 address of ``end``'s interface."""
        return f"10.231.{self._subnet}.{1 if end == 'a' else 2}"

    def __enter__(self) -> Self:
        reason = netns_unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        a, b = self.namespaces["a"], self.namespaces["b"]
        try:
            for ns in (a, b):
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", a, "link", "add", self.interfaces["a"], "type", "veth",
                "peer", "name", self.interfaces["b"], "netns", b)
            for end in ("a", "b"):
                ns, dev = self.namespaces[end], self.interfaces[end]
                _ip("-n", ns, "addr", "add", f"{self.address(end)}/30", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self._delete()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for reader in self._readers:
            reader.close()
        self._delete()

    def down(self) -> None:
        """Cut the link (``a``'s end goes down; no packet passes either way)."""
        _ip("-n", self.namespaces["a"], "link", "set", self.interfaces["a"], "down")

    def up(self) -> None:
        """Restore the link."""
        _ip("-n", self.namespaces["a"], "link", "set", self.interfaces["a"], "up")

    def spawn(self, end: End, argv: Sequence[str],
              env: dict[str, str] | None = None) -> LineReader:
        """Run ``argv`` inside ``end``'s namespace; stops with the link. Returns its stdout."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespaces[end], *argv], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, **(env or {})})
        reader = LineReader(process)
        self._readers.append(reader)
        return reader

    def _delete(self) -> None:
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _change(line: str) -> dict[str, Any]:
    try:
        found = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
