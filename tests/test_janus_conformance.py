"""The generated conformance paths on a real Janus, with media checks (root and Janus only)."""

from __future__ import annotations

import os

import pytest

from rtcstate.testing.conformance import check_path, path_id
from rtcstate.testing.janus import janus_unavailable
from rtcstate.testing.janus_harness import JanusHarness
from rtcstate.testing.paths import Path

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(janus_unavailable() is not None,
                                 reason=str(janus_unavailable()))]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_every_generated_path_holds_on_janus_with_media(conformance_path: Path) -> None:
    path = conformance_path
    async with JanusHarness(tag=f"c{os.getpid() % 100000}") as harness:
        result = await check_path(harness, path)  # an unsupported step is a skip
    assert result.path == path_id(path)
    refused = path[0].edge.trigger == "stop" or any(
        s.edge.trigger == "connect_failed" and s.edge.dest == "disconnected" for s in path)
    assert result.media.startswith("checked") != refused, result.media


