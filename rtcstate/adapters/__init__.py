"""Transport adapters: they turn a transport's world into rtcstate events.

* :mod:`rtcstate.adapters.base` — the ``Transport`` and ``MediaDevices`` protocols.
* :mod:`rtcstate.adapters.memory` — the embedded in-memory room service (the default).

Machines never import this package: transports drive machines through events.
"""

from rtcstate.adapters.base import CapturedMedia, MediaConstraints, MediaDevices, Transport

__all__ = ["CapturedMedia", "MediaConstraints", "MediaDevices", "Transport"]
