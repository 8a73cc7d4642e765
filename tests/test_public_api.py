"""The public surface: what each public module exports stays deliberate and documented."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import rtcstate

PUBLIC_MODULES = [
    "rtcstate", "rtcstate.audio", "rtcstate.catalog", "rtcstate.clock", "rtcstate.dispatcher",
    "rtcstate.errors", "rtcstate.models", "rtcstate.preflight", "rtcstate.statemachines",
    "rtcstate.room", "rtcstate.devices", "rtcstate.diagrams", "rtcstate.generate",
    "rtcstate.limits", "rtcstate.logs", "rtcstate.handlers", "rtcstate.models.states",
    "rtcstate.adapters", "rtcstate.adapters.base", "rtcstate.adapters.memory",
    "rtcstate.adapters.aiortc", "rtcstate.adapters.aiortc.transport",
    "rtcstate.adapters.aiortc.media", "rtcstate.adapters.aiortc.client",
    "rtcstate.adapters.aiortc.liveness", "rtcstate.adapters.connection", "rtcstate.adapters.janus",
    "rtcstate.adapters.janus.api",
    "rtcstate.adapters.janus.transport",
    "rtcstate.server", "rtcstate.server.room_server", "rtcstate.server.tokens",
    "rtcstate.server.protocol",
    "rtcstate.demos", "rtcstate.demos.memory", "rtcstate.demos.aiortc", "rtcstate.demos.bot",
    "rtcstate.demos.janus",
    "rtcstate.cli", "rtcstate.cli.errors", "rtcstate.cli.demo", "rtcstate.cli.specs",
    "rtcstate.cli.webrtc", "rtcstate.cli.conformance", "rtcstate.testing.aiortc",
    "rtcstate.testing", "rtcstate.testing.paths", "rtcstate.testing.stateful",
    "rtcstate.testing.conformance", "rtcstate.testing.variants", "rtcstate.testing.coverage",
    "rtcstate.testing.janus", "rtcstate.testing.janus_harness", "rtcstate.testing.clients",
    "rtcstate.testing.netns",
]

# The top-level surface. Changing it is an API decision: update this list on purpose.
TOP_LEVEL = [
    "SPECS", "AccessTokenError", "AnyioClock", "ApiError", "CameraNoFramesError", "CatalogEntry",
    "CatalogError", "Clock",
    "ConnectError", "ConnectOptions", "DevicePermissionMachine", "DisconnectError",
    "DispatchStats", "Dispatcher", "Event", "GuardRejected", "Handlers", "InvalidEvent",
    "InvalidTransition",
    "LifecycleMachine", "LocalTrackPublicationMachine", "MachineSpec", "MediaConnectionError",
    "MediaError", "MediaInsecureContextError", "MediaNotAllowedError", "MediaNotFoundError",
    "MediaNotReadableError", "MediaOverconstrainedError", "MediaWarningError",
    "MicrophoneSilentError", "ParticipantDuplicateIdentityError", "ParticipantMachine",
    "PreflightError", "RemoteTrackPublicationMachine", "Room", "RoomCompletedError", "RoomEnded",
    "RoomMachine",
    "RoomMaxParticipantsExceededError", "RoomNotFoundError", "RtcRuntimeError", "RtcStateError",
    "SignalingConnectionDisconnectedError", "SignalingConnectionError",
    "SignalingConnectionTimeoutError", "SignalingServerBusyError", "SpecError", "StateChange",
    "TrackError", "TransportError", "UnknownCatalogEntry", "UnknownMachine", "VirtualClock",
    "WaitTimedOut",
    "__version__",
    "audio_level",
    "catalog", "connect", "error_class", "error_for", "parse_event",
]


def test_top_level_surface_does_not_drift() -> None:
    assert sorted(rtcstate.__all__) == sorted(TOP_LEVEL)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_exported_name_exists_and_is_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for attr in exported:
        value = getattr(module, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{attr} has no docstring"


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("rtcstate").joinpath("py.typed").is_file()


def test_import_stays_light() -> None:
    """``import rtcstate`` must not pull in numpy or the CLI stack (import time budget)."""
    code = ("import sys, rtcstate; "
            "print(' '.join(m for m in ('numpy', 'typer', 'hypothesis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["statemachines", "models"])
def test_machines_and_models_never_import_adapters(package: str) -> None:
    """The rule of the design: transports drive machines through events, never the reverse."""
    root = Path(rtcstate.__file__).parent / package
    for source in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("rtcstate.adapters", "rtcstate.room")), (
                    f"{source.name} imports {name}")


def test_the_janus_extra_installs_what_importing_the_janus_transport_needs() -> None:
    # rtcstate.adapters.janus is built on rtcstate.adapters.aiortc, whose import checks for
    # aiortc, PyJWT and websockets: an application installing only the janus extra needs all.
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]

    def names(extra: str) -> set[str]:
        return {requirement.split(">")[0].split("<")[0].split("=")[0].strip().lower()
                for requirement in extras[extra]}

    assert names("aiortc") <= names("janus")
