"""The adapter protocols: what a transport and a set of media devices must offer rtcstate.

A **transport** joins a room service and reports what happens as rtcstate events. Its methods
are requests; their outcomes (and everything the service does on its own: participants joining,
reconnections, warnings) arrive on :meth:`Transport.events`. rtcstate never calls back into a
transport from the machines: the :class:`rtcstate.room.Room` does, reacting to state changes.

A **media-devices** adapter acquires capture devices the way getUserMedia does and raises the
catalog's media errors when it cannot.

Both are structural (``typing.Protocol``): any class with these methods fits, no base class is
needed. Writing one for another SDK is a matter of translating its callbacks into events; see the
README's "Writing an adapter".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from anyio.abc import ObjectReceiveStream

from rtcstate.clock import VirtualTime
from rtcstate.models.base import DeviceKind, Event, FacingMode, TrackKind
from rtcstate.models.options import ConnectOptions

__all__ = [
    "CapturedMedia",
    "MediaConstraints",
    "MediaDevices",
    "SupportsRemoteMedia",
    "SupportsVirtualTime",
    "Transport",
]


@runtime_checkable
class Transport(Protocol):
    """A connection to a room service, for one local participant.

    Requests return once sent; what becomes of them arrives as events:

    ==================  ===========================================================
    request             events that answer it
    ==================  ===========================================================
    ``connect``         ``room.connected`` or ``room.connect_failed`` (a catalog code),
                        then ``participant.connected`` and ``remote_track.published``
                        for everyone already there
    ``publish``         ``local_track.published`` (with the track sid)
    ``unpublish``       none needed (the local event already moved the machine)
    ``disconnect``      none (the local ``room.disconnect`` event moved the machine)
    ==================  ===========================================================

    Unprompted events: ``room.reconnecting`` / ``reconnected`` / ``disconnected`` with their
    catalog codes, ``local_track.warning`` / ``warnings_cleared`` (only for warnings listed in
    ``ConnectOptions.notify_warnings``), and every ``participant.*`` and ``remote_track.*``.
    """

    def events(self) -> ObjectReceiveStream[Event]:
        """The stream of events this transport emits, in order. Called once, before connect."""

    async def connect(self, options: ConnectOptions) -> None:
        """Ask to join ``options.room_name`` as ``options.identity``; called again to retry.

        Raises:
            anyio.ClosedResourceError: the transport was closed.
        """

    async def publish(self, track_name: str, kind: TrackKind, media: object | None = None) -> None:
        """Publish a local track (again, after foregrounding): ``media`` is the application's
        own media object for it (an aiortc ``MediaStreamTrack`` on the aiortc transport;
        whatever the transport documents), ``None`` the transport's own source.

        Raises:
            TypeError: ``media`` is not something this transport can send.
        """

    async def unpublish(self, track_name: str) -> None:
        """Stop publishing a local track."""

    async def disconnect(self) -> None:
        """Leave the room. Idempotent: leaving twice, or after being disconnected, is fine."""

    async def aclose(self) -> None:
        """Release everything; the event stream ends. Idempotent."""

    async def __aenter__(self) -> Self:
        """Return the transport itself."""

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Close it (:meth:`aclose`)."""


@runtime_checkable
class SupportsRemoteMedia(Protocol):
    """A transport that hands the application the media it receives.

    The Room puts it on :attr:`RemoteTrackPublicationMachine.media
    <rtcstate.statemachines.RemoteTrackPublicationMachine.media>` when a remote track becomes
    ``subscribed``, before any handler hears of it, and takes it off when it is no longer.
    """

    def remote_media(self, track_sid: str) -> object | None:
        """The media object of subscribed remote track ``track_sid`` (``None`` if it is not
        subscribed). It ends when the subscription does."""


@runtime_checkable
class SupportsVirtualTime(Protocol):
    """A simulated transport whose time is a :class:`~rtcstate.clock.VirtualTime`.

    ``emitted`` lets a consumer tell when it has caught up: a memory stream hands an item
    straight to a waiting receiver, so an empty buffer does not mean nothing is in flight.
    """

    @property
    def virtual_time(self) -> VirtualTime:
        """The virtual time the simulation runs on."""

    @property
    def emitted(self) -> int:
        """How many events the transport has put on its event stream so far."""


@dataclass(frozen=True, slots=True)
class MediaConstraints:
    """getUserMedia-like constraints: a specific device, or a camera's facing mode."""

    device_id: str | None = None
    facing_mode: FacingMode | None = None


@dataclass(frozen=True, slots=True)
class CapturedMedia:
    """A capture an adapter started: which device, and the adapter's own handle to it."""

    kind: DeviceKind
    label: str
    device_id: str | None = None
    handle: object = None


@runtime_checkable
class MediaDevices(Protocol):
    """Capture devices, acquired the way getUserMedia does."""

    async def acquire(self, kind: DeviceKind, constraints: MediaConstraints) -> CapturedMedia:
        """Start capturing from a device of ``kind``.

        Raises:
            rtcstate.MediaError: a subclass per the guide's media errors (NotAllowedError ->
                :class:`~rtcstate.MediaNotAllowedError`, ...), carrying the browser's message.
        """

    async def release(self, media: CapturedMedia) -> None:
        """Stop capturing. Idempotent."""

    async def audio_frames(self, media: CapturedMedia, count: int) -> list[list[float]]:
        """``count`` frames of a microphone's analyser byte-frequency data (values 0..255)."""

    async def video_frames(self, media: CapturedMedia, seconds: float) -> int:
        """How many frames a camera delivered in ``seconds`` of preview."""
