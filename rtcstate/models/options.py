"""Connect options: what the application asks for when it joins a Room."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rtcstate.models.base import Name, TrackKind, WarningName

__all__ = ["ConnectOptions", "PreAcquiredTrack", "ReconnectPolicy", "RetryPolicy"]


class RetryPolicy(BaseModel):
    """How to retry joining after a retryable connection error (53000, 53006).

    Attempt ``n`` (counting the first as 1) starts ``initial_delay * multiplier ** (n - 2)``
    seconds after attempt ``n - 1`` failed, capped at ``max_delay``. There is no jitter: runs
    are reproducible; spread clients out by giving them different policies if you need to.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=100,
                              description="attempts in all, the first included")
    initial_delay: float = Field(default=1.0, gt=0, le=3600)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    max_delay: float = Field(default=30.0, gt=0, le=3600)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 or more)."""
        if attempt < 2:
            raise ValueError(f"attempt {attempt} is not a retry: the first attempt is 1")
        delay = self.initial_delay * self.multiplier ** (attempt - 2)
        limit = self.max_delay
        return delay if delay < limit else limit  # min() costs a call on a timed state's entry


class ReconnectPolicy(BaseModel):
    """How long the client stays ``reconnecting`` before giving up with the interruption's error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: float = Field(default=30.0, gt=0, le=3600, description="seconds")


class PreAcquiredTrack(BaseModel):
    """A local track acquired before joining (the guide's camera-preview pattern)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    kind: TrackKind
    muted: bool = False
    stopped: bool = False
    media: object | None = Field(
        default=None, exclude=True, repr=False,
        description="the application's own media for it (an aiortc MediaStreamTrack on the "
                    "aiortc transport); None: the transport's own source. Not serialised.")


class ConnectOptions(BaseModel):
    """Options for joining a Room.

    ``notify_warnings`` is empty by default, as in the guide: no warning is ever raised unless
    asked for. Pre-acquired ``tracks`` must be neither muted nor stopped (on iOS Safari a second
    getUserMedia call mutes earlier tracks, so check before you connect).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    room_name: Name
    identity: Name
    tracks: tuple[PreAcquiredTrack, ...] = ()
    notify_warnings: frozenset[WarningName] = frozenset()
    reconnect: ReconnectPolicy = ReconnectPolicy()
    retry: RetryPolicy = RetryPolicy()
    warning_escalation_timeout: float = Field(
        default=5.0, gt=0, le=3600,
        description="seconds a warning may last before the escalation transition fires")
    departed_retention: float | None = Field(
        default=300.0, ge=0, le=86400,
        description="seconds a remote participant that left, and a remote track that was "
                    "unpublished, stay in the Room's maps before it forgets their machines "
                    "(memory stays flat in long-lived rooms); None keeps them for the room's "
                    "life")

    @model_validator(mode="after")
    def _check_tracks(self) -> ConnectOptions:
        names = [track.name for track in self.tracks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"pre-acquired track names must be unique; repeated: {duplicates}")
        unusable = [t.name for t in self.tracks if t.muted or t.stopped]
        if unusable:
            raise ValueError(
                f"pre-acquired tracks {unusable} are muted or stopped; pass live tracks "
                "(on iOS Safari, acquiring media again mutes tracks acquired earlier)")
        return self
