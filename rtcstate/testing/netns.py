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
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

__all__ = ["HostLink", "LineReader", "NamespacedRoomServer", "VethLink", "netns_unavailable"]

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


class HostLink:
    """A namespace of its own joined to this side (the machine's own namespace) by a veth
    pair, for a server to run in: created by :meth:`create`, deleted by :meth:`delete` (also
    what is left of a failed create). Its link can be cut, and UDP (media) or TCP (signaling)
    dropped on it alone.

    Args:
        prefix: the names' start (``rtcj`` for Janus, ``rtcr`` for the reference server).
        tag: makes the names unique (default: this process's id).
        network: the first three octets of its ``/30``: the namespace's end is ``.1``, this
            side's ``.2``.

    Raises:
        ValueError: ``prefix`` and ``tag`` make an interface name over 15 characters.
    """

    _RULE_PREFS: ClassVar[dict[str, tuple[str, str]]] = {"udp": ("100", "101"),
                                                         "tcp": ("102", "103")}

    def __init__(self, prefix: str, tag: str | None, network: str) -> None:
        tag = tag or str(os.getpid())
        self.namespace = f"{prefix}{tag}"
        self.interface = f"{prefix}{tag}j"  # the namespace's end
        self.host_interface = f"{prefix}{tag}h"
        if len(self.host_interface) > 15:
            raise ValueError(f"tag {tag!r} is too long for an interface name")
        self.address = f"{network}.1"
        self.host_address = f"{network}.2"
        self._blocked: set[str] = set()
        self._local_rule_moved = False

    def create(self) -> None:
        """Make the namespace, the veth pair and both addresses."""
        _ip("netns", "add", self.namespace)
        _ip("-n", self.namespace, "link", "set", "lo", "up")
        _ip("link", "add", self.host_interface, "type", "veth", "peer", "name",
            self.interface, "netns", self.namespace)
        _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_interface)
        _ip("link", "set", self.host_interface, "up")
        _ip("-n", self.namespace, "addr", "add", f"{self.address}/30", "dev", self.interface)
        _ip("-n", self.namespace, "link", "set", self.interface, "up")

    def delete(self) -> None:
        """Delete the namespace (and with its end, the pair's other end). Idempotent."""
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.host_interface], capture_output=True,
                       check=False)
        self._blocked.clear()
        self._local_rule_moved = False

    def down(self) -> None:
        """Cut the link (the namespace's end goes down: no packet passes either way)."""
        _ip("-n", self.namespace, "link", "set", self.interface, "down")

    def up(self) -> None:
        """Restore the link."""
        _ip("-n", self.namespace, "link", "set", self.interface, "up")

    def block_udp(self) -> None:
        """Drop UDP between the namespace and this side, silently, both ways, while TCP
        (signaling) still passes: a network that blocks media. Policy rules inside the
        namespace only (this needs neither tc's actions nor netfilter, which a kernel may
        lack); the namespace's local table moves behind them."""
        self._block("udp")

    def allow_udp(self) -> None:
        """Let UDP through again (undoes :meth:`block_udp`)."""
        self._allow("udp")

    def block_tcp(self) -> None:
        """Drop TCP (signaling) while UDP (media) still passes, as :meth:`block_udp` does
        for UDP."""
        self._block("tcp")

    def allow_tcp(self) -> None:
        """Let TCP through again (undoes :meth:`block_tcp`)."""
        self._allow("tcp")

    def _block(self, protocol: Literal["udp", "tcp"]) -> None:
        if protocol in self._blocked:
            return
        ns = ("-n", self.namespace)
        if not self._local_rule_moved:
            _ip(*ns, "rule", "add", "pref", "1000", "lookup", "local")
            _ip(*ns, "rule", "del", "pref", "0")
            self._local_rule_moved = True
        incoming, outgoing = self._RULE_PREFS[protocol]
        _ip(*ns, "rule", "add", "pref", incoming, "iif", self.interface, "ipproto", protocol,
            "blackhole")
        _ip(*ns, "rule", "add", "pref", outgoing, "to", self.host_address, "ipproto", protocol,
            "blackhole")
        self._blocked.add(protocol)

    def _allow(self, protocol: Literal["udp", "tcp"]) -> None:
        if protocol in self._blocked:
            for pref in self._RULE_PREFS[protocol]:
                _ip("-n", self.namespace, "rule", "del", "pref", pref)
            self._blocked.discard(protocol)


class NamespacedRoomServer:
    """The reference server (``rtcstate serve``, a process of its own) in a namespace of its
    own behind a :class:`HostLink`, started on enter and stopped on exit (the namespace
    deleted, also when starting fails): a server whose media or signaling a test can block
    while clients in this process use it.

    Args:
        secret: the token secret it verifies with.
        tag, subnet: make the namespace unique (``10.233.N.0/30``).
        port: its signaling port.
        arguments: more options for ``rtcstate serve``.
        start_timeout: seconds it may take to listen.

    Attributes:
        url: its ``ws://`` address.
        link: the namespace and veth pair it runs behind.
    """

    def __init__(self, secret: str, *, tag: str | None = None, subnet: int = 0,
                 port: int = 7880, arguments: Sequence[str] = (),
                 start_timeout: float = 20.0) -> None:
        self.link = HostLink("rtcr", tag, f"10.233.{subnet}")
        self.url = f"ws://{self.link.address}:{port}"
        self._argv = [sys.executable, "-m", "rtcstate", "serve", "--host", self.link.address,
                      "--port", str(port), "--secret", secret, *arguments]
        self.start_timeout = start_timeout
        self._reader: LineReader | None = None

    def __enter__(self) -> Self:
        reason = netns_unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        try:
            self.link.create()
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.link.namespace, *self._argv],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True)
            self._reader = LineReader(process)
            self._reader.expect(lambda line: line.startswith("listening on"),
                                within=self.start_timeout)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        self.link.delete()


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
