"""rtcstate: the lifecycles of a real-time video client as explicit, typed state machines.

The pieces, each in its own module:

* :mod:`rtcstate.statemachines` — the Room, Participant, LocalTrackPublication,
  RemoteTrackPublication and DevicePermission machines, each a plain-data spec.
* :mod:`rtcstate.models` — the Pydantic event models that drive them, ``ConnectOptions`` and the
  ``StateChange`` record every transition produces.
* :mod:`rtcstate.catalog` — the SDKs' error codes and the guide's error tables, with lookups.
* :func:`connect` and :class:`Room` — join a room over a transport (:mod:`rtcstate.adapters`);
  :class:`Handlers` — callbacks for the changes an application wants, from the first one.
* :class:`Dispatcher` — applies events in order, schedules timeouts on a :mod:`~rtcstate.clock`.
* :mod:`rtcstate.errors` — every exception, under :class:`RtcStateError`.
"""

from importlib.metadata import PackageNotFoundError, version

from rtcstate import catalog
from rtcstate.audio import audio_level
from rtcstate.catalog import CatalogEntry
from rtcstate.clock import AnyioClock, Clock, VirtualClock
from rtcstate.dispatcher import Dispatcher, DispatchStats
from rtcstate.errors import (
    AccessTokenError,
    ApiError,
    CameraNoFramesError,
    CatalogError,
    ConnectError,
    DisconnectError,
    GuardRejected,
    InvalidEvent,
    InvalidTransition,
    MediaConnectionError,
    MediaError,
    MediaInsecureContextError,
    MediaNotAllowedError,
    MediaNotFoundError,
    MediaNotReadableError,
    MediaOverconstrainedError,
    MediaWarningError,
    MicrophoneSilentError,
    ParticipantDuplicateIdentityError,
    PreflightError,
    RoomCompletedError,
    RoomEnded,
    RoomMaxParticipantsExceededError,
    RoomNotFoundError,
    RtcRuntimeError,
    RtcStateError,
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    SignalingConnectionTimeoutError,
    SignalingServerBusyError,
    SpecError,
    TrackError,
    TransportError,
    UnknownCatalogEntry,
    UnknownMachine,
    error_class,
    error_for,
)
from rtcstate.handlers import Handlers
from rtcstate.models import ConnectOptions, Event, StateChange, parse_event
from rtcstate.room import Room, WaitTimedOut, connect
from rtcstate.statemachines import (
    SPECS,
    DevicePermissionMachine,
    LifecycleMachine,
    LocalTrackPublicationMachine,
    MachineSpec,
    ParticipantMachine,
    RemoteTrackPublicationMachine,
    RoomMachine,
)

try:
    __version__ = version("rtcstate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "SPECS",
    "AnyioClock",
    "AccessTokenError",
    "ApiError",
    "CameraNoFramesError",
    "CatalogEntry",
    "CatalogError",
    "Clock",
    "ConnectError",
    "ConnectOptions",
    "DevicePermissionMachine",
    "DisconnectError",
    "DispatchStats",
    "Dispatcher",
    "Event",
    "GuardRejected",
    "Handlers",
    "InvalidEvent",
    "InvalidTransition",
    "LifecycleMachine",
    "LocalTrackPublicationMachine",
    "MachineSpec",
    "MediaConnectionError",
    "MediaError",
    "MediaInsecureContextError",
    "MediaNotAllowedError",
    "MediaNotFoundError",
    "MediaNotReadableError",
    "MediaOverconstrainedError",
    "MediaWarningError",
    "MicrophoneSilentError",
    "ParticipantDuplicateIdentityError",
    "ParticipantMachine",
    "PreflightError",
    "RemoteTrackPublicationMachine",
    "RoomMachine",
    "Room",
    "RoomCompletedError",
    "RoomEnded",
    "RoomMaxParticipantsExceededError",
    "RoomNotFoundError",
    "RtcRuntimeError",
    "RtcStateError",
    "SignalingConnectionDisconnectedError",
    "SignalingConnectionError",
    "SignalingConnectionTimeoutError",
    "SignalingServerBusyError",
    "SpecError",
    "StateChange",
    "TrackError",
    "TransportError",
    "UnknownCatalogEntry",
    "UnknownMachine",
    "VirtualClock",
    "WaitTimedOut",
    "__version__",
    "audio_level",
    "catalog",
    "connect",
    "error_class",
    "error_for",
    "parse_event",
]
