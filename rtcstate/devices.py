"""The local participant's capture devices: one DevicePermission machine per kind, driven by a
:class:`~rtcstate.adapters.base.MediaDevices` adapter.

This is the guide's preflight, before joining: acquire the microphone and camera (every media
error lands in its state, carrying the browser's message), test them (a microphone level of 0
while the user talks, a camera without frames), and release them when done.
"""

from __future__ import annotations

from rtcstate.adapters.base import CapturedMedia, MediaConstraints, MediaDevices
from rtcstate.dispatcher import Dispatcher
from rtcstate.errors import MediaError, UnknownMachine
from rtcstate.models.base import DeviceKind, Event
from rtcstate.models.device import (
    DeviceAcquireFailed,
    DeviceFallBackToDefault,
    DeviceGranted,
    DeviceRelease,
    DeviceRequest,
    DeviceTest,
)
from rtcstate.models.state_change import StateChange
from rtcstate.preflight import camera_test_result, microphone_test_result
from rtcstate.statemachines.device import DevicePermissionMachine

__all__ = ["LocalDevices"]

MIC_TEST_FRAMES = 10
CAMERA_TEST_SECONDS = 1.0


class LocalDevices:
    """Acquire, test and release capture devices, with their machines on ``dispatcher``.

    Works whether the dispatcher is running (``async with``) or not (step mode).
    """

    def __init__(self, adapter: MediaDevices, dispatcher: Dispatcher) -> None:
        self.adapter = adapter
        self.dispatcher = dispatcher
        self.media: dict[DeviceKind, CapturedMedia] = {}

    def machine(self, kind: DeviceKind) -> DevicePermissionMachine:
        """The machine for ``kind``, registered on first use."""
        try:
            found = self.dispatcher.get("device", kind)
        except UnknownMachine:
            return self.dispatcher.add(DevicePermissionMachine(kind))
        assert isinstance(found, DevicePermissionMachine)
        return found

    async def acquire(self, kind: DeviceKind, constraints: MediaConstraints | None = None,
                      *, fall_back: bool = True) -> CapturedMedia:
        """Acquire a device, as getUserMedia would.

        With ``fall_back``, an OverconstrainedError for a specific device is followed by the
        guide's recommendation: ask again for the default device.

        Raises:
            MediaError: the subclass for the guide's media error (the machine is in its state).
            InvalidTransition: the device's machine cannot ask now (already granted, say).
        """
        constraints = constraints or MediaConstraints()
        self.machine(kind)
        await self._apply(DeviceRequest(device_kind=kind, device_id=constraints.device_id,
                                        facing_mode=constraints.facing_mode))
        while True:
            try:
                media = await self.adapter.acquire(kind, constraints)
            except MediaError as error:
                await self._apply(DeviceAcquireFailed.model_validate({
                    "device_kind": kind, "error_name": error.entry.name,
                    "message": error.detail}))
                if (fall_back and error.entry.name == "OverconstrainedError"
                        and constraints.device_id is not None):
                    await self._apply(DeviceFallBackToDefault(device_kind=kind))
                    constraints = MediaConstraints(facing_mode=constraints.facing_mode)
                    continue
                raise
            break
        self.media[kind] = media
        await self._apply(DeviceGranted(device_kind=kind, label=media.label))
        return media

    async def test(self, kind: DeviceKind) -> StateChange:
        """The guide's device test: the change to ``ok``, ``silent`` or ``no_frames``.

        Ask the user to talk before testing the microphone.
        """
        media = self.media[kind]
        await self._apply(DeviceTest(device_kind=kind))
        if kind == "microphone":
            frames = await self.adapter.audio_frames(media, MIC_TEST_FRAMES)
            return await self._apply(microphone_test_result(frames))
        received = await self.adapter.video_frames(media, CAMERA_TEST_SECONDS)
        return await self._apply(camera_test_result(received))

    async def release(self, kind: DeviceKind) -> None:
        """Stop capturing from ``kind`` and end its machine (``released``)."""
        media = self.media.pop(kind, None)
        if media is not None:
            await self.adapter.release(media)
        if not self.machine(kind).is_terminal:
            await self._apply(DeviceRelease(device_kind=kind))

    async def release_all(self) -> None:
        """Release every device that has a machine."""
        for kind in ("microphone", "camera"):
            if ("device", kind) in self.dispatcher.machines:
                await self.release(kind)

    async def _apply(self, event: Event) -> StateChange:
        if self.dispatcher.running:
            return await self.dispatcher.submit(event)
        return self.dispatcher.dispatch(event)
