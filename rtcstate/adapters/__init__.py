"""Transport adapters: they turn a transport's world into rtcstate events.

The adapter protocol, the in-memory room service and the aiortc transport arrive with the
transport work; machines never import this package.
"""

__all__: list[str] = []
