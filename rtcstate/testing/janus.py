"""A Janus of the test's own: generated configuration, in a network namespace of its own.

::

    with JanusServer() as janus:          # Linux, root, Debian's ``janus`` package
        transport = JanusTransport(janus.url)
        ...
        janus.down(); ...; janus.up()     # a real link cut, signaling and media alike
    # Janus stopped, its namespace (and the veth pair with it) deleted, its files removed

Janus will not do ICE on loopback, so it runs in a network namespace that the context creates,
joined to this one by a veth pair: Janus's end (``10.232.N.1``) in the namespace, the other
(``10.232.N.2``) here, where the test's own aiortc peer connections find it as a host
candidate. The namespace has no other interface and no route anywhere else, so nothing Janus
does can reach beyond this machine.

The configuration is generated, never Debian's stock one (which listens on every address,
ships an admin secret and demo rooms): only the VideoRoom plugin (``string_ids``, no rooms)
and the WebSockets transport (bound to Janus's end, no admin API), no STUN or TURN server,
ICE on Janus's end only (``ice_enforce_list``), mDNS candidates ignored, and the timers a test
wants short: ``no_media_timer``, ``session_timeout``, ``reclaim_session_timeout``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from rtcstate.testing.netns import HostLink, netns_unavailable

__all__ = ["JANUS_LIBRARIES", "JanusServer", "janus_unavailable"]

JANUS_LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")
"""Where Debian's ``janus`` package puts its plugins and transports (amd64)."""


def _library_folder() -> Path | None:
    for folder in (JANUS_LIBRARIES, *sorted(Path("/usr/lib").glob("*/janus"))):
        if (folder / "plugins" / "libjanus_videoroom.so").exists():
            return folder
    return None


def janus_unavailable() -> str | None:
    """Why :class:`JanusServer` cannot run here (``None`` if it can): a reason for ``skip``."""
    reason = netns_unavailable()
    if reason is not None:
        return reason
    if shutil.which("janus") is None:
        return "Janus is not installed (Debian: apt-get install janus)"
    folder = _library_folder()
    if folder is None or not (folder / "transports" / "libjanus_websockets.so").exists():
        return "Janus's VideoRoom plugin or WebSockets transport is missing"
    return None


class JanusServer:
    """A Janus started on enter and stopped on exit, in a namespace of its own.

    Args:
        tag: makes the namespace's and interfaces' names unique (default: this process's id).
        subnet: the third octet of ``10.232.N.0/30``.
        port: the WebSockets port.
        session_timeout: seconds without a request before Janus ends a session (its
            ``timeout`` event).
        reclaim_session_timeout: seconds Janus keeps a session whose WebSocket went away, for
            a ``claim`` on a new one.
        no_media_timer: seconds without media before Janus says it stopped receiving.
        start_timeout: seconds Janus may take to listen.

    Attributes:
        url: Janus's ``ws://`` address.
        address: Janus's IPv4 address (inside its namespace); ``host_address`` is this end's.
        log: Janus's output so far (the file it writes to).
        link: the namespace and veth pair it runs behind
            (:class:`~rtcstate.testing.netns.HostLink`).
    """

    def __init__(self, tag: str | None = None, *, subnet: int = 0, port: int = 8188,
                 session_timeout: int = 10, reclaim_session_timeout: int = 5,
                 no_media_timer: int = 1, start_timeout: float = 10.0) -> None:
        self.link = HostLink("rtcj", tag, f"10.232.{subnet}")
        self.namespace, self.interface = self.link.namespace, self.link.interface
        self.host_interface = self.link.host_interface
        self.address, self.host_address = self.link.address, self.link.host_address
        self.port = port
        self.url = f"ws://{self.address}:{port}"
        self.session_timeout = session_timeout
        self.reclaim_session_timeout = reclaim_session_timeout
        self.no_media_timer = no_media_timer
        self.start_timeout = start_timeout
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        """What Janus has written so far."""
        if self._folder is None:
            return ""
        path = self._folder / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Self:
        reason = janus_unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        try:
            self.link.create()
            self._folder = Path(tempfile.mkdtemp(prefix="rtcstate-janus-"))
            config = self._write_configuration(self._folder)
            with open(self._folder / "janus.log", "wb") as log:
                self._process = subprocess.Popen(
                    ["ip", "netns", "exec", self.namespace, "janus", "-F", str(config),
                     "-C", str(config / "janus.jcfg"), "--disable-colors"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            self._wait_listening()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def down(self) -> None:
        """Cut the link (Janus's end goes down: no packet passes either way)."""
        self.link.down()

    def up(self) -> None:
        """Restore the link."""
        self.link.up()

    def block_udp(self) -> None:
        """Drop UDP (media) to and from Janus while TCP (signaling) still passes
        (:meth:`HostLink.block_udp <rtcstate.testing.netns.HostLink.block_udp>`)."""
        self.link.block_udp()

    def allow_udp(self) -> None:
        """Let UDP through again."""
        self.link.allow_udp()

    def block_tcp(self) -> None:
        """Drop TCP (signaling) to and from Janus while UDP (media) still passes."""
        self.link.block_tcp()

    def allow_tcp(self) -> None:
        """Let TCP through again."""
        self.link.allow_tcp()

    @property
    def pid(self) -> int | None:
        """Janus's process id (``ip netns exec`` execs it), while it runs."""
        return self._process.pid if self._process is not None else None

    def _write_configuration(self, folder: Path) -> Path:
        library = _library_folder()
        assert library is not None
        config, plugins, transports = folder / "conf", folder / "plugins", folder / "transports"
        for made in (config, plugins, transports, folder / "events", folder / "loggers"):
            made.mkdir()
        # Folders of their own hold only what is wanted: Janus loads every library it finds.
        (plugins / "libjanus_videoroom.so").symlink_to(
            library / "plugins" / "libjanus_videoroom.so")
        (transports / "libjanus_websockets.so").symlink_to(
            library / "transports" / "libjanus_websockets.so")
        (config / "janus.jcfg").write_text(f"""\
general: {{
    configs_folder = "{config}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "{folder / 'events'}"
    loggers_folder = "{folder / 'loggers'}"
    debug_level = 4
    interface = "{self.address}"
    session_timeout = {self.session_timeout}
    reclaim_session_timeout = {self.reclaim_session_timeout}
}}
media: {{
    no_media_timer = {self.no_media_timer}
}}
nat: {{
    ice_enforce_list = "{self.interface}"
    ignore_mdns = true
}}
""")
        (config / "janus.transport.websockets.jcfg").write_text(f"""\
general: {{
    ws = true
    ws_ip = "{self.address}"
    ws_port = {self.port}
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
""")
        (config / "janus.plugin.videoroom.jcfg").write_text("""\
general: {
    string_ids = true
}
""")
        return config

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            process = self._process
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"Janus exited ({process.returncode}):\n{self.log[-2000:]}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Janus did not listen within {self.start_timeout} s:\n"
                           f"{self.log[-2000:]}")

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.link.delete()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

