"""Media for the aiortc transport: synthetic sources, and capture devices through MediaPlayer.

Synthetic tracks are what a bot or a test publishes when no device is given: a tone and a moving
picture, generated on the fly. :meth:`SyntheticTrack.hold` stops a synthetic track's frames (the
RTP stops with them) without touching the connection, which is how a test makes a published
track's media stop reaching the server.

:class:`AiortcMediaDevices` acquires real devices (or files) with aiortc's ``MediaPlayer`` and
maps what FFmpeg says onto the guide's media errors: no such device -> ``NotFoundError``, the
device is busy -> ``NotReadableError``, constraints the device cannot meet ->
``OverconstrainedError``.
"""

from __future__ import annotations

import asyncio
import errno
import fractions
import math
import time
from collections.abc import Mapping
from typing import Any

import anyio
import av
import av.error
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import AUDIO_PTIME, VIDEO_CLOCK_RATE, VIDEO_PTIME, MediaStreamError
from av.frame import Frame
from av.packet import Packet

from rtcstate import catalog
from rtcstate.adapters.base import CapturedMedia, MediaConstraints
from rtcstate.errors import MediaError, error_for
from rtcstate.models.base import DeviceKind, TrackKind

__all__ = [
    "AiortcMediaDevices",
    "RemoteMedia",
    "SyntheticAudioTrack",
    "SyntheticTrack",
    "SyntheticVideoTrack",
    "media_error_for",
    "synthetic_track",
]

_SAMPLE_RATE = 48_000


class RemoteMedia(MediaStreamTrack):
    """A remote track as the application receives it: one track for the whole subscription.

    Under it, the transport feeds the track of the current peer connection (a new one after a
    resume or a re-subscription); frames come out with timestamps that keep increasing, so a
    ``MediaRecorder`` reading it writes one continuous file. It ends (``recv`` raises
    ``MediaStreamError``) when the subscription ends: unsubscribed, unpublished, room left.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._fed: asyncio.Event = asyncio.Event()
        self._next_pts = 0

    def feed(self, source: MediaStreamTrack) -> None:
        """Receive from ``source`` from now on (the previous one is let go)."""
        old, self._source = self._source, source
        if old is not None:
            old.stop()
        self._fed.set()

    async def recv(self) -> Frame | Packet[Any]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            if source is None:
                self._fed.clear()
                await self._fed.wait()
                continue
            try:
                frame = await source.recv()
            except MediaStreamError:
                if self._source is source:  # its connection ended: wait for the next feed
                    self._source = None
                continue
            frame.pts = self._next_pts
            self._next_pts += (frame.samples if isinstance(frame, av.AudioFrame)
                               else int(VIDEO_CLOCK_RATE * VIDEO_PTIME))
            return frame

    def stop(self) -> None:
        super().stop()
        source, self._source = self._source, None
        if source is not None:
            source.stop()
        self._fed.set()  # a recv waiting for a feed sees the end


class SyntheticTrack(MediaStreamTrack):
    """A generated track whose frames can be held back and let go again."""

    def __init__(self) -> None:
        super().__init__()
        self._flowing = anyio.Event()
        self._flowing.set()
        self._start: float | None = None
        self._sent = 0

    def hold(self) -> None:
        """Stop producing frames (the connection stays up; its RTP stops)."""
        if self._flowing.is_set():
            self._flowing = anyio.Event()

    def release(self) -> None:
        """Produce frames again."""
        self._flowing.set()

    def stop(self) -> None:
        super().stop()
        self._flowing.set()  # a reader waiting out a hold sees the end

    @property
    def held(self) -> bool:
        """Whether frames are held back."""
        return not self._flowing.is_set()

    async def _pace(self, period: float) -> None:
        """Wait for the next frame's time (and while held); raise once stopped."""
        await self._flowing.wait()
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None or self._sent == 0:
            self._start = now
        due = self._start + self._sent * period
        if due > now:
            await anyio.sleep(due - now)
        elif now - due > 1.0:  # after a hold: start the cadence afresh
            self._start, self._sent = now, 0
        self._sent += 1


class SyntheticVideoTrack(SyntheticTrack):
    """Moving colour bars, 320x240 at 30 frames per second."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self._width, self._height = width, height
        self._pts = 0

    async def recv(self) -> av.VideoFrame:
        await self._pace(VIDEO_PTIME)
        shift = (self._pts // 3000) % self._width
        row = (np.arange(self._width, dtype=np.uint16) + shift) % 256
        image = np.broadcast_to(row.astype(np.uint8)[None, :, None],
                                (self._height, self._width, 3)).copy()
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._pts += int(VIDEO_PTIME * VIDEO_CLOCK_RATE)
        return frame


class SyntheticAudioTrack(SyntheticTrack):
    """A 440 Hz tone, mono, 48 kHz, in 20 ms frames (``frequency=0``: silence)."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self._frequency, self._amplitude = frequency, amplitude
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        await self._pace(AUDIO_PTIME)
        samples = int(AUDIO_PTIME * _SAMPLE_RATE)
        t = (self._pts + np.arange(samples)) / _SAMPLE_RATE
        wave = self._amplitude * np.sin(2 * math.pi * self._frequency * t)
        data = (wave * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = _SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, _SAMPLE_RATE)
        self._pts += samples
        return frame


def synthetic_track(kind: TrackKind) -> MediaStreamTrack:
    """The default source for a published track of ``kind``.

    Raises:
        ValueError: ``kind`` is ``"data"`` (data tracks carry no media here).
    """
    if kind == "video":
        return SyntheticVideoTrack()
    if kind == "audio":
        return SyntheticAudioTrack()
    raise ValueError("the aiortc transport publishes audio and video tracks, not data tracks")


_NOT_FOUND = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_BUSY = {errno.EBUSY, errno.EAGAIN}
_UNSUPPORTED = {errno.EINVAL, errno.ERANGE, errno.ENOTSUP, errno.EOPNOTSUPP}


def media_error_for(exc: BaseException, kind: DeviceKind, source: str) -> MediaError | None:
    """The guide's media error for what FFmpeg (through PyAV) said while opening ``source``.

    ``None`` if it is none of them (the caller re-raises the original).
    """
    code = getattr(exc, "errno", None)
    video = kind == "camera"
    if isinstance(exc, FileNotFoundError) or code in _NOT_FOUND:
        entry = catalog.by_message("Requested device not found")
        message = f"Requested device not found: {source}"
    elif code in _BUSY:
        entry = catalog.by_message(f"Could not start {'video' if video else 'audio'} source")
        message = f"Could not start {'video' if video else 'audio'} source: {source} is busy"
    elif code in _UNSUPPORTED:
        entry = catalog.by_name("OverconstrainedError")[0]
        message = f"{source} cannot satisfy the constraints: {exc}"
    else:
        return None
    error = error_for(entry, detail=message)
    return error if isinstance(error, MediaError) else None


class AiortcMediaDevices:
    """Capture devices through aiortc's ``MediaPlayer``, or synthetic ones.

    Args:
        camera, microphone: what ``MediaPlayer`` opens for each kind (a device such as
            ``/dev/video0`` with ``format="v4l2"``, or a file); ``None``: a synthetic source.
        formats: FFmpeg input format per kind (``{"camera": "v4l2"}``).
        options: FFmpeg options per kind (``{"camera": {"video_size": "640x480"}}``); the
            constraints a device may not meet.
    """

    def __init__(self, *, camera: str | None = None, microphone: str | None = None,
                 formats: Mapping[DeviceKind, str] | None = None,
                 options: Mapping[DeviceKind, Mapping[str, str]] | None = None) -> None:
        self.sources: dict[DeviceKind, str | None] = {"camera": camera, "microphone": microphone}
        self.formats = dict(formats or {})
        self.options = {kind: dict(value) for kind, value in (options or {}).items()}
        self._players: dict[int, MediaPlayer] = {}

    async def acquire(self, kind: DeviceKind, constraints: MediaConstraints) -> CapturedMedia:
        """Open the device of ``kind`` (``constraints.device_id`` overrides the source).

        Raises:
            MediaNotFoundError, MediaNotReadableError, MediaOverconstrainedError: as FFmpeg
                reports the device missing, busy, or unable to meet the options.
        """
        source = constraints.device_id or self.sources[kind]
        if source is None:
            track = synthetic_track("video" if kind == "camera" else "audio")
            return CapturedMedia(kind, f"Synthetic {kind}", None, track)
        try:
            player = MediaPlayer(source, format=self.formats.get(kind),
                                 options=self.options.get(kind))
        except (av.error.FFmpegError, OSError) as exc:
            error = media_error_for(exc, kind, source)
            if error is None:
                raise
            raise error from exc
        found = player.video if kind == "camera" else player.audio
        if found is None:
            player_tracks = [t for t in (player.audio, player.video) if t is not None]
            for other in player_tracks:
                other.stop()
            raise error_for(catalog.by_message("Requested device not found"),
                            detail=f"{source} has no {kind} stream")
        self._players[id(found)] = player
        return CapturedMedia(kind, source, constraints.device_id, found)

    async def release(self, media: CapturedMedia) -> None:
        """Stop the capture. Idempotent."""
        track = media.handle
        if isinstance(track, MediaStreamTrack):
            track.stop()
            self._players.pop(id(track), None)

    async def audio_frames(self, media: CapturedMedia, count: int) -> list[list[float]]:
        """``count`` analyser frames (byte frequency data, 0..255) of the captured audio."""
        track = media.handle
        assert isinstance(track, MediaStreamTrack)
        frames = []
        for _ in range(count):
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            samples = frame.to_ndarray().astype(np.float64).reshape(-1) / 32768.0
            frames.append(_byte_frequency_data(samples))
        return frames

    async def video_frames(self, media: CapturedMedia, seconds: float) -> int:
        """How many frames the camera delivered in ``seconds``."""
        track = media.handle
        assert isinstance(track, MediaStreamTrack)
        count = 0
        with anyio.move_on_after(seconds):
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    break
                count += 1
        return count


def _byte_frequency_data(samples: np.ndarray, size: int = 1024) -> list[float]:
    """What a Web Audio ``AnalyserNode.getByteFrequencyData`` would give (-100..-30 dB)."""
    window = np.resize(samples, size) * np.blackman(size)
    magnitude = np.abs(np.fft.rfft(window))[: size // 2] / size
    decibels = 20 * np.log10(np.maximum(magnitude, 1e-12))
    scaled = (decibels + 100) / 70 * 255
    values: list[float] = np.clip(scaled, 0, 255).tolist()
    return values
