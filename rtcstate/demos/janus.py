"""The guide's story on Janus: ``rtcstate demo --transport janus``.

The same steps as :mod:`rtcstate.demos.aiortc`, on a Janus started for the run
(:class:`~rtcstate.testing.janus.JanusServer`: Debian's ``janus``, root, a namespace of its
own). Where the reference server is told to misbehave, Janus meets the real thing: Alice's
first join goes to a port nobody listens on (53000, retried), her link to Janus is cut and
restored (53001, reconnected), and Bob's identity is taken over by a second client (53205).
About twenty seconds.
"""

from __future__ import annotations

import anyio.to_thread

from rtcstate.demos.aiortc import AiortcStoryResult, Listener, play_story
from rtcstate.testing.janus import JanusServer
from rtcstate.testing.janus_harness import RefusingJanusTransport

__all__ = ["run_janus_story"]


class _Janus:
    def __init__(self, janus: JanusServer) -> None:
        self.janus = janus
        self._transports: dict[str, RefusingJanusTransport] = {}

    def transport(self, identity: str) -> RefusingJanusTransport:
        made = self._transports[identity] = RefusingJanusTransport(self.janus.url)
        return made

    async def refuse_next_join(self, identity: str) -> None:
        self._transports[identity].refuse_next = True

    async def cut_signaling(self, identity: str) -> None:
        await anyio.to_thread.run_sync(self.janus.down)  # every client shares the link

    async def restore_signaling(self, identity: str) -> None:
        await anyio.to_thread.run_sync(self.janus.up)


async def run_janus_story(listener: Listener | None = None) -> AiortcStoryResult:
    """Play the story on a Janus of its own; ``listener(participant, change)`` sees each
    change as it happens.

    Raises:
        RuntimeError: Janus cannot run here (not root, or not installed); the message says
            which (:func:`~rtcstate.testing.janus.janus_unavailable`).
    """
    janus = JanusServer(tag="demo", subnet=20)
    await anyio.to_thread.run_sync(janus.__enter__)
    try:
        return await play_story(_Janus(janus), listener)
    finally:
        await anyio.to_thread.run_sync(janus.__exit__, None, None, None)
