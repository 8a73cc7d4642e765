"""Janus's JSON API over one WebSocket: a session, its handles, requests and what comes back.

Janus answers a request on its ``transaction``: at once (``success`` or ``error``) for
synchronous ones, or first ``ack`` and later an ``event`` for asynchronous ones (a plugin's
``join``, ``publish``, ``configure``, ``start``). Everything else it sends on its own
(``event`` without a transaction, ``webrtcup``, ``media``, ``hangup``, ``detached``,
``timeout``, ...) goes on :attr:`JanusSession.notices`, in order.

A session outlives its WebSocket: Janus keeps it for ``reclaim_session_timeout`` seconds after
the socket went away, and :meth:`JanusSession.claim` moves it onto a new one.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from rtcstate.errors import TransportError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "VIDEOROOM",
    "JanusRequestError",
    "JanusSession",
    "Reply",
    "map_janus_errors",
    "plugin_data",
]

VIDEOROOM = "janus.plugin.videoroom"
MAX_MESSAGE_BYTES = 1 << 20
"""The largest message taken from Janus (a room's publisher list with SDP-free streams is far
smaller; anything larger is a broken or hostile server)."""


class JanusRequestError(Exception):
    """Janus refused a request: its ``error`` (core) or a plugin's ``error_code``.

    Attributes:
        code: Janus's numeric code (458 no such session, 426 no such room, 436 user id exists,
            432 maximum publishers reached, ...).
        reason: Janus's text.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus {code}: {reason}")
        self.code = code
        self.reason = reason


@contextlib.contextmanager
def map_janus_errors() -> Iterator[None]:
    """Convert websockets' handshake and address errors into :class:`TransportError`.

    Raises:
        TransportError: for any such backend exception, ``from`` the original.
    """
    try:
        yield
    except (InvalidURI, InvalidHandshake) as exc:
        raise TransportError(f"websockets: {exc}", backend="janus") from exc


@dataclass(frozen=True, slots=True)
class Reply:
    """Janus's final answer to a request: its ``plugindata.data`` (``{}`` for core requests),
    the ``jsep`` it carried, and the whole message."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None
    message: dict[str, Any] = field(repr=False)


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusSession:
    """One Janus session on one WebSocket (:meth:`open` or :meth:`claim` makes the socket).

    Args:
        url: Janus's ``ws://`` address (its WebSockets transport).
        request_timeout: seconds a request may wait for its final answer.
    """

    def __init__(self, url: str, *, request_timeout: float = 5.0) -> None:
        self.url = url
        self.request_timeout = request_timeout
        self.session_id: int | None = None
        self.last_heard = 0.0
        self._ws: ClientConnection | None = None
        self._pending: dict[str, tuple[anyio.Event, list[dict[str, Any]]]] = {}
        self._notices_send: MemoryObjectSendStream[dict[str, Any]]
        self.notices: MemoryObjectReceiveStream[dict[str, Any]]
        self._notices_send, self.notices = anyio.create_memory_object_stream[dict[str, Any]](
            math.inf)

    @property
    def connected(self) -> bool:
        """Whether a WebSocket is open under the session."""
        return self._ws is not None

    async def open(self, within: float) -> None:
        """Open a WebSocket to Janus (the session is made with :meth:`create`).

        Raises:
            OSError, TimeoutError: Janus cannot be reached within ``within`` seconds.
            TransportError: the address or handshake is wrong.
        """
        with map_janus_errors(), anyio.fail_after(within):
            self._ws = await ws_connect(self.url, subprotocols=[Subprotocol("janus-protocol")],
                                        max_size=MAX_MESSAGE_BYTES, ping_interval=None,
                                        close_timeout=0.5, open_timeout=None)
        self.last_heard = time.monotonic()

    async def serve(self) -> None:
        """Read the socket until it closes: answers to their requests, the rest to
        :attr:`notices`. Run it in a task while the socket is open."""
        ws = self._ws
        assert ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self.last_heard = time.monotonic()
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue  # not JSON: nothing to route it by
                if not isinstance(message, dict):
                    continue
                self._route(message)
        self._fail_pending()

    def _route(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        waiting = self._pending.get(str(message.get("transaction")))
        if waiting is not None:
            if kind == "ack":
                return  # an asynchronous request: its event follows
            done, result = waiting
            result.append(message)
            done.set()
            return
        if kind in ("ack", "success"):
            return  # a keepalive's or a forgotten request's answer
        self._notices_send.send_nowait(message)

    def _fail_pending(self) -> None:
        for done, _result in self._pending.values():
            done.set()  # an empty result: the socket went away

    def drop(self) -> None:
        """Abandon the WebSocket without a close handshake (the link is gone)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.transport.abort()
        self._fail_pending()

    async def close(self) -> None:
        """Destroy the session (if the socket is up) and close the socket; if cancelled
        meanwhile, :meth:`abort` instead."""
        ws, self._ws = self._ws, None
        try:
            if ws is not None and self.session_id is not None:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(json.dumps({"janus": "destroy", "session_id": self.session_id,
                                              "transaction": _transaction()}))
            if ws is not None:
                with anyio.move_on_after(1):
                    await ws.close()
        finally:
            if ws is not None:
                ws.transport.abort()
            self.abort()

    def abort(self) -> None:
        """Abandon the socket and end the notices at once, without telling Janus (a join
        cancelled midway; Janus times the session out)."""
        self.drop()
        self._notices_send.close()
        self.notices.close()

    async def send(self, body: dict[str, Any]) -> None:
        """Send ``body`` without waiting for an answer (a keepalive, a detach).

        Raises:
            ConnectionClosed: the socket is closed.
        """
        ws = self._ws
        if ws is None:
            raise ConnectionClosed(None, None)
        if self.session_id is not None:
            body.setdefault("session_id", self.session_id)
        body.setdefault("transaction", _transaction())
        await ws.send(json.dumps(body))

    async def request(self, body: dict[str, Any]) -> Reply:
        """Send a request and wait for its final answer.

        Raises:
            JanusRequestError: Janus (or its plugin) refused it.
            ConnectionClosed: the socket closed first.
            TimeoutError: no answer within ``request_timeout``.
        """
        transaction = _transaction()
        done, result = self._pending[transaction] = (anyio.Event(), [])
        try:
            await self.send({**body, "transaction": transaction})
            with anyio.fail_after(self.request_timeout):
                await done.wait()
        finally:
            del self._pending[transaction]
        if not result:
            raise ConnectionClosed(None, None)
        message = result[0]
        if message.get("janus") == "error":
            error = message.get("error") or {}
            raise JanusRequestError(int(error.get("code", 0)), str(error.get("reason", "")))
        data = (message.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusRequestError(int(data["error_code"]), str(data.get("error", "")))
        jsep = message.get("jsep")
        return Reply(data=data if isinstance(data, dict) else {},
                     jsep=jsep if isinstance(jsep, dict) else None, message=message)

    async def create(self) -> None:
        """Create the session on the open socket."""
        reply = await self.request({"janus": "create"})
        self.session_id = int(reply.message["data"]["id"])

    async def claim(self) -> None:
        """Move the session onto the open socket (after the old one was lost).

        Raises:
            JanusRequestError: 458 when Janus no longer holds the session.
        """
        await self.request({"janus": "claim", "session_id": self.session_id})

    async def attach(self) -> int:
        """Attach a VideoRoom handle; return its id."""
        reply = await self.request({"janus": "attach", "plugin": VIDEOROOM,
                                    "session_id": self.session_id})
        return int(reply.message["data"]["id"])

    async def message(self, handle: int, body: dict[str, Any],
                      jsep: dict[str, Any] | None = None) -> Reply:
        """Send ``body`` to handle ``handle``'s plugin (with an SDP, if given)."""
        request: dict[str, Any] = {"janus": "message", "session_id": self.session_id,
                                   "handle_id": handle, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self.request(request)

    async def detach(self, handle: int) -> None:
        """Detach a handle (its peer connection hangs up); no answer is awaited."""
        with contextlib.suppress(ConnectionClosed):
            await self.send({"janus": "detach", "handle_id": handle})

    async def keepalive(self) -> None:
        """Refresh the session (Janus ends it after ``session_timeout`` seconds without)."""
        await self.send({"janus": "keepalive"})


def plugin_data(message: dict[str, Any]) -> dict[str, Any]:
    """A notice's ``plugindata.data`` (``{}`` when it has none)."""
    data = (message.get("plugindata") or {}).get("data")
    return data if isinstance(data, dict) else {}

