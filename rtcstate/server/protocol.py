"""The signaling protocol between :class:`RoomServer` and :class:`AiortcTransport`.

One JSON object per WebSocket text message, validated on both ends by the models below (one
discriminated union per direction). A message over :data:`MAX_MESSAGE_BYTES` is refused by the
WebSocket layer itself (close code 1009); a malformed one is answered with :class:`Problem` and
otherwise ignored.

Media goes over one aiortc peer connection per published track (the client offers) and one per
subscription (the server offers): adding or removing a track never renegotiates a live
connection (aiortc cannot remove a track), and after a reconnection every connection is simply
made anew (aiortc has no ICE restart).

Client to server: ``join``, ``resume``, ``publish``, ``unpublish``, ``answer``,
``resubscribe``, ``leave``, ``ping``. Server to client: ``joined``, ``refused``, ``resumed``,
``published``, ``publish_refused``, ``offer``, ``participant``, ``track``, ``warning``,
``disconnected``, ``pong``, ``problem``.

Every subscription offer carries an ``offer_id`` that its answer repeats: an answer to an offer
that was replaced meanwhile (a participant joining while a track is being published gets two)
is ignored instead of being applied to the newer connection. A resume refused because the
server ended the session while the client was away carries that verdict (53002, 53205).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal, TypeAlias

import anyio
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from rtcstate.limits import MAX_NAME_LENGTH
from rtcstate.models.base import TrackKind, WarningName

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_TOKEN_LENGTH",
    "Answer",
    "ClientMessage",
    "Disconnected",
    "Join",
    "Joined",
    "Leave",
    "Offer",
    "ParticipantInfo",
    "ParticipantNotice",
    "Ping",
    "Pong",
    "Problem",
    "Publish",
    "Published",
    "PublishRefused",
    "Refused",
    "Resubscribe",
    "Resume",
    "Resumed",
    "ServerMessage",
    "TrackInfo",
    "TrackNotice",
    "Unpublish",
    "WarningNotice",
    "client_messages",
    "close_peer_connection",
    "local_rtc_configuration",
    "restart_video_reception",
    "server_messages",
    "set_local_description",
]

MAX_MESSAGE_BYTES = 64 * 1024
"""The largest signaling message either side accepts (an SDP is a few kilobytes)."""


def local_rtc_configuration() -> RTCConfiguration:
    """What every peer connection of both ends is made with unless told otherwise: no ICE
    servers (aiortc would otherwise ask a public STUN server)."""
    return RTCConfiguration(iceServers=[])


def _dtls_transports(pc: RTCPeerConnection) -> list[Any]:
    """The DTLS transports of ``pc``'s transceivers and data channels (each once)."""
    found: list[Any] = []
    ends = [end.transport for transceiver in pc.getTransceivers()
            for end in (transceiver.sender, transceiver.receiver)]
    if pc.sctp is not None:
        ends.append(pc.sctp.transport)
    for dtls in ends:
        if dtls is not None and dtls not in found:
            found.append(dtls)
    return found


def _ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections under ``pc`` (private attributes, looked up defensively)."""
    found: list[Any] = []
    for dtls in _dtls_transports(pc):
        ice = getattr(dtls, "transport", None)
        connection = getattr(ice, "_connection", None)
        if connection is not None and connection not in found:
            found.append(connection)
    return found


async def _no_consent() -> None:
    return None


async def close_peer_connection(pc: RTCPeerConnection, *,
                                end_unstarted_tracks: bool = False) -> None:
    """Close ``pc`` to the end, as both ends do: shielded (a close cut short by a cancellation
    leaves sockets open), keeping a late ICE connect from starting a consent task that would
    never end (below), and, with ``end_unstarted_tracks``, ending its remote tracks.

    aiortc ends a remote track when its receiver's decoder stops, and a receiver that never
    started (the connection closed before media was negotiated, or its DTLS handshake failed)
    never does: whatever reads the track, a ``MediaRelay`` task say, waits forever, to be
    destroyed pending when collected. ``end_unstarted_tracks`` gives such a track the
    end-of-stream marker its decoder would have (``None`` on its queue, read by
    ``RemoteStreamTrack.recv``; private attributes of aiortc 1.x, looked up defensively:
    without them nothing is done). The server relays its publications' tracks and asks for
    it; the client reads a subscription's track only once it is connected, and ending the
    tracks of its replaced subscriptions early was measured to cost a resumed subscriber its
    frames now and then (the churning-room test), so it does not.
    """
    connections = _ice_connections(pc)
    for connection in connections:
        # aioice 0.x: a close that comes while the ICE checks are just completing lets
        # connect() start its consent-freshness task during or after the close, which then
        # loops forever (no nominated pairs are left to fail). A connection being closed
        # gets a no-op instead, and a task started meanwhile is cancelled.
        connection.query_consent = _no_consent
    with anyio.CancelScope(shield=True):
        await pc.close()
    for connection in connections:
        consent = getattr(connection, "_query_consent_task", None)
        if isinstance(consent, asyncio.Task) and not consent.done():
            consent.cancel()
    for receiver in pc.getReceivers():
        # A receiver that started has a decoder, which ends its track as it stops.
        started = getattr(receiver, "_RTCRtpReceiver__started", True)
        queue = getattr(receiver.track, "_queue", None)
        if end_unstarted_tracks and not started and isinstance(queue, asyncio.Queue):
            queue.put_nowait(None)


async def set_local_description(pc: RTCPeerConnection,
                                description: RTCSessionDescription) -> None:
    """``pc.setLocalDescription(description)``, shielded from cancellation.

    The first local description gathers the ICE candidates: aioice 0.x binds one UDP socket
    per local address and hands them to its connection only once all are bound. Cancelled
    midway (the room leaving while a subscription is being answered), it drops the sockets
    bound so far where neither it nor :meth:`RTCPeerConnection.close` can find them: they stay
    open until garbage-collected. Host candidates only bind sockets, so the shield holds for
    milliseconds; with STUN or TURN servers configured, aioice bounds each query (5 s).
    """
    with anyio.CancelScope(shield=True):
        await pc.setLocalDescription(description)


async def restart_video_reception(pc: RTCPeerConnection) -> int:
    """After media could not get through for a while: let each video receiver of ``pc``
    assemble frames again from the next packet on, and ask its sender for a keyframe (PLI).
    Returns how many receivers were restarted.

    aiortc 1.x assembles video frames from its jitter buffer in sequence order and stops at
    the first missing packet: a gap no retransmission fills (an outage longer than the
    sender's history) holds every later frame until 512 more packets have come, seconds of
    frozen video after the media path is back (1 outage in 10 froze for 7-9 s here; aiortc
    issue #1416, pull request #1418). Emptying the buffer lets the next complete frame through,
    and the PLI makes that a keyframe. Private attributes of aiortc 1.x, looked up
    defensively: without them nothing is done.
    """
    restarted = 0
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "video":
            continue
        receiver = transceiver.receiver
        buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
        packets = getattr(buffer, "_packets", None)
        if not isinstance(packets, list) or not hasattr(buffer, "_origin"):
            continue
        buffer._packets = [None] * len(packets)  # type: ignore[union-attr]
        buffer._origin = None  # type: ignore[union-attr]
        # Nor are the packets lost so far asked for again: their retransmissions, arriving
        # after this, would take the buffer back to the gap.
        missing = getattr(getattr(receiver, "_RTCRtpReceiver__nack_generator", None),
                          "missing", None)
        if isinstance(missing, set):
            missing.clear()
        restarted += 1
        streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", None) or {}
        retransmissions = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", None) or {}
        send_pli = getattr(receiver, "_send_rtcp_pli", None)
        if callable(send_pli):
            for ssrc in [ssrc for ssrc in streams if ssrc not in retransmissions]:
                await send_pli(ssrc)
    return restarted


_Sid = Annotated[str, Field(min_length=1, max_length=64)]
_Name = Annotated[str, Field(min_length=1, max_length=256)]
# Names a client asks for are checked by the server (rtcstate.limits), which refuses a bad one
# with its catalog code; only what could not be a name at all is a Problem.
_RequestedName = Annotated[str, Field(max_length=4 * MAX_NAME_LENGTH)]
_Sdp = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_BYTES)]
MAX_TOKEN_LENGTH = 8192
"""The longest access token a join or resume may carry, in characters."""

_Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]
_OfferId = Annotated[int, Field(ge=1)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- client to server ------------------------------------------------------------------------

class Join(_Message):
    """Join the room the token grants; ask for the warnings to be told about."""

    type: Literal["join"] = "join"
    room: _RequestedName
    token: _Token
    notify_warnings: tuple[WarningName, ...] = ()


class Resume(_Message):
    """Come back after losing the connection, as the participant the server still holds."""

    type: Literal["resume"] = "resume"
    room: _RequestedName
    token: _Token
    participant_sid: _Sid
    resume_key: _Sid


class Publish(_Message):
    """Publish a track: the offer of a new peer connection that carries only it."""

    type: Literal["publish"] = "publish"
    name: _RequestedName
    kind: TrackKind
    sdp: _Sdp
    renew: bool = False
    """The track is published already and its connection gave up (its media path failed):
    this offer replaces that connection, and is not a second publication of the name."""


class Unpublish(_Message):
    """Stop publishing a track (its peer connection is closed)."""

    type: Literal["unpublish"] = "unpublish"
    name: _Name


class Answer(_Message):
    """The answer to a subscription :class:`Offer` (``offer_id`` says which one)."""

    type: Literal["answer"] = "answer"
    track_sid: _Sid
    offer_id: _OfferId
    sdp: _Sdp


class Resubscribe(_Message):
    """A subscription did not connect: offer the track again on a new peer connection."""

    type: Literal["resubscribe"] = "resubscribe"
    track_sid: _Sid


class Leave(_Message):
    """Leave the room."""

    type: Literal["leave"] = "leave"


class Ping(_Message):
    """Heartbeat: the server answers :class:`Pong` at once."""

    type: Literal["ping"] = "ping"
    n: int = Field(ge=0)


ClientMessage: TypeAlias = Annotated[
    Join | Resume | Publish | Unpublish | Answer | Resubscribe | Leave | Ping,
    Field(discriminator="type")]
"""Anything a client may send."""

client_messages: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
"""Validates a client's message (``validate_json``)."""


# -- server to client ------------------------------------------------------------------------

class TrackInfo(_Message):
    """A published track, as others see it."""

    sid: _Sid
    name: _Name
    kind: TrackKind
    participant_sid: _Sid


class ParticipantInfo(_Message):
    """A participant in the room, whether its connection is interrupted, what it publishes."""

    sid: _Sid
    identity: _Name
    reconnecting: bool = False
    tracks: tuple[TrackInfo, ...] = ()


class Joined(_Message):
    """The join succeeded: who is there, and the key that lets this participant resume."""

    type: Literal["joined"] = "joined"
    room_sid: _Sid
    participant_sid: _Sid
    resume_key: _Sid
    participants: tuple[ParticipantInfo, ...] = ()


class Refused(_Message):
    """The join or resume was refused, with its catalog ``code``: the access token (20101-20107),
    the Room name or identity (53100-53102, 53200-53202), a full or unknown Room (53105, 53106).

    A refused resume carries 53001 when the server no longer holds the session, or the verdict
    it gave while the client was away (53002 session ended, 53205 replaced by a newer join).
    """

    type: Literal["refused"] = "refused"
    code: int
    message: str = ""


class PublishRefused(_Message):
    """A publication was refused, with its catalog ``code``: too many tracks (53203), a bad
    track name (53301-53303), a name this connection already publishes (53304)."""

    type: Literal["publish_refused"] = "publish_refused"
    name: _RequestedName
    code: int
    message: str = ""


class Resumed(_Message):
    """The participant is back; every peer connection is to be made anew. ``participants`` is
    the room as it is now: what changed while the client could not hear is told this way."""

    type: Literal["resumed"] = "resumed"
    participants: tuple[ParticipantInfo, ...] = ()


class Published(_Message):
    """A track is published: its sid and the answer to its peer connection's offer."""

    type: Literal["published"] = "published"
    name: _Name
    kind: TrackKind
    sid: _Sid
    sdp: _Sdp


class Offer(_Message):
    """A subscription: the offer of a new peer connection carrying one remote track."""

    type: Literal["offer"] = "offer"
    track: TrackInfo
    offer_id: _OfferId
    sdp: _Sdp


class ParticipantNotice(_Message):
    """Another participant connected, is reconnecting, reconnected or disconnected."""

    type: Literal["participant"] = "participant"
    change: Literal["connected", "reconnecting", "reconnected", "disconnected"]
    participant: ParticipantInfo


class TrackNotice(_Message):
    """Another participant published or unpublished a track; or the service stopped (or
    resumed) this participant's subscription to it (``unsubscribed``), or its forwarding
    (``switched_off``, ``switched_on``)."""

    type: Literal["track"] = "track"
    change: Literal["published", "unpublished", "unsubscribed", "switched_off", "switched_on"]
    track: TrackInfo


class WarningNotice(_Message):
    """A warning about one of this participant's published tracks (only if asked for)."""

    type: Literal["warning"] = "warning"
    name: _Name
    kind: TrackKind
    sid: _Sid
    warning: WarningName
    cleared: bool = False


class Disconnected(_Message):
    """The server ended this participant's session (53002, 53205)."""

    type: Literal["disconnected"] = "disconnected"
    code: int


class Pong(_Message):
    """Heartbeat answer."""

    type: Literal["pong"] = "pong"
    n: int = Field(ge=0)


class Problem(_Message):
    """A message could not be understood; nothing else happened."""

    type: Literal["problem"] = "problem"
    message: str


ServerMessage: TypeAlias = Annotated[
    Joined | Refused | Resumed | Published | PublishRefused | Offer | ParticipantNotice
    | TrackNotice | WarningNotice | Disconnected | Pong | Problem,
    Field(discriminator="type")]
"""Anything the server may send."""

server_messages: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
"""Validates a server's message (``validate_json``)."""
