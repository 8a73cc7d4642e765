"""The demo stories, each a short script over the public API; the CLI only runs them.

* :mod:`.memory` — the guide's story on the in-memory service (``rtcstate demo``).
* :mod:`.aiortc` — the same story over real WebRTC (``rtcstate demo --transport aiortc``).
* :mod:`.bot` — one participant joining from a shell (``rtcstate join``).
"""

__all__: list[str] = []
