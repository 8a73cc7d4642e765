"""Capacity side by side: the reference room server and Janus under the same load, in one run.

The load: N participants in one room, all to all, each publishing one audio track (Opus, 50
frames a second) and subscribed to everyone else's, so the server forwards N(N-1) streams. For
N = 2, 4, 6, ... each server gets the same load; after a second of warm-up, for
``WINDOW`` seconds the benchmark counts every subscription's frames and the server process's
CPU time (``/proc/<pid>/stat``). It prints, per N: the server's CPU per forwarded stream (% of
one core), the share of frames delivered on the worst subscription, and the clients' own CPU;
and, per server, the fan-out at which it stops delivering every frame (the worst subscription
gets under ``EVERY_FRAME`` of the frames it was sent).

Keeping the clients from being the bottleneck: the participants are spread over
``CLIENT_PROCESSES`` client processes (one per core), and their receivers do not decode:
aiortc's decoder is replaced by one that hands the encoded frame on (:func:`_no_decoding`), so
a subscription costs a client the SRTP and RTP work only. The busiest client process's CPU is
printed beside the server's, so a reader can tell which side gave out (a row whose client
process used over 90% of a core says so, and one where the server and all clients together used
over 90% of the machine's cores: the server's limit is then beyond what this machine's clients
can load). The reference server runs in a process of its own (``rtcstate serve``), as
Janus does, so each server's CPU is its own.

Needs root and Debian's ``janus`` for Janus's half (it says why not otherwise); the reference
server's half runs anywhere. Run with ``make bench``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread

import rtcstate
from rtcstate.adapters.aiortc import AiortcTransport, create_access_token
from rtcstate.adapters.janus import JanusTransport
from rtcstate.models import ConnectOptions, RetryPolicy
from rtcstate.room import Room
from rtcstate.testing.janus import JanusServer, janus_unavailable
from rtcstate.testing.netns import LineReader

SIZES = (2, 4, 6, 8, 10, 12)
WINDOW = 4.0
"""Seconds each load is measured for."""
FRAMES_PER_SECOND = 50  # Opus at aiortc's 20 ms packetisation
EVERY_FRAME = 0.98
"""The share of a subscription's frames that counts as every frame (jitter at the window's
edges aside)."""
GIVE_UP = 0.5
"""A server whose worst subscription gets under half its frames is not given more."""
SECRET = "rtcstate-bench-secret-of-32-bytes"
ROOM = "capacity"
TICKS = os.sysconf("SC_CLK_TCK")


def _no_decoding() -> None:
    """Hand encoded frames on instead of decoding them: the clients count frames, and
    decoding every subscription's audio would make this process the bottleneck."""
    import aiortc.rtcrtpreceiver as receiver

    class _PassThrough:
        def decode(self, encoded: Any) -> list[Any]:
            return [encoded]

    def get_decoder(_codec: Any) -> _PassThrough:
        return _PassThrough()

    receiver.get_decoder = get_decoder  # type: ignore[attr-defined,assignment]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


CLIENT_PROCESSES = max(2, os.cpu_count() or 2)


async def _worker(kind: str, url: str, identities: list[str], size: int) -> None:
    """A client process: join as ``identities``, say ``ready`` once subscribed to everyone
    (or after 20 s), count frames between ``start`` and ``stop`` on stdin, print them."""
    _no_decoding()

    def make(identity: str) -> Any:
        if kind == "janus":
            return JanusTransport(url, max_publishers=64)
        return AiortcTransport(url, create_access_token(SECRET, identity=identity, room=ROOM))

    async def line() -> str:
        text: str = await anyio.to_thread.run_sync(sys.stdin.readline)
        return text.strip()

    async with contextlib.AsyncExitStack() as stack:
        clients: list[tuple[Room, Any]] = []
        for identity in identities:
            transport = make(identity)
            room = await stack.enter_async_context(rtcstate.connect(
                transport, ConnectOptions(room_name=ROOM, identity=identity,
                                          retry=RetryPolicy(max_attempts=1),
                                          tracks=[{"name": "microphone", "kind": "audio"}])))
            clients.append((room, transport))
        print("joined", flush=True)
        await line()  # everyone has joined
        # A server out of its depth may not connect every subscription: those count as
        # delivering nothing.
        with anyio.move_on_after(20):  # for all of them together
            for room, _ in clients:
                await room.wait_until(_subscribed_to_all(room, size), within=20)
        print("ready", flush=True)
        await line()  # start
        before = [dict(t.frames_received) for _, t in clients]
        cpu, started = _own_cpu_seconds(), time.monotonic()
        await line()  # stop
        elapsed = time.monotonic() - started
        cpu = _own_cpu_seconds() - cpu
        expected = FRAMES_PER_SECOND * elapsed
        shares = [(t.frames_received.get(sid, 0) - seen.get(sid, 0)) / expected
                  for (room, t), seen in zip(clients, before, strict=True)
                  for sid in room.remote_tracks]
        shares += [0.0] * (len(identities) * (size - 1) - len(shares))  # never published
        print(json.dumps({"shares": shares, "cpu": cpu / elapsed}), flush=True)


def _subscribed_to_all(room: Room, size: int) -> Callable[[], bool]:
    return lambda: sum(t.state == "subscribed" for t in room.remote_tracks.values()) == size - 1


async def _measure(kind: str, url: str, size: int, server_pid: int) -> dict[str, float]:
    """One load: ``size`` participants all to all, spread over the client processes."""
    identities = [f"p{n}" for n in range(size)]
    groups = [identities[k::CLIENT_PROCESSES] for k in range(CLIENT_PROCESSES)]
    workers = [LineReader(subprocess.Popen(  # noqa: ASYNC220 - started, not waited for
        [sys.executable, __file__, "worker", kind, url, str(size), ",".join(group)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        for group in groups if group]

    def tell(word: str) -> None:
        for worker in workers:
            assert worker.process.stdin is not None
            worker.process.stdin.write(word + "\n")
            worker.process.stdin.flush()

    def expect(word: str, within: float) -> list[str]:
        return [worker.expect(lambda text: text.startswith(word), within=within)
                for worker in workers]

    try:
        await anyio.to_thread.run_sync(expect, "joined", 60)
        tell("all joined")
        await anyio.to_thread.run_sync(expect, "ready", 60)
        await anyio.sleep(1.0)  # warm-up: jitter buffers fill, rates settle
        tell("start")
        server_before, started = _cpu_seconds(server_pid), time.monotonic()
        await anyio.sleep(WINDOW)
        tell("stop")
        elapsed = time.monotonic() - started
        server_cpu = _cpu_seconds(server_pid) - server_before
        results = [json.loads(text) for text in
                   await anyio.to_thread.run_sync(expect, "{", 30)]
    finally:
        for worker in workers:
            await anyio.to_thread.run_sync(worker.close)
    streams = size * (size - 1)
    return {"streams": streams, "worst": min(s for r in results for s in r["shares"]),
            "server_per_stream": 100 * server_cpu / elapsed / streams,
            "server": 100 * server_cpu / elapsed,
            "clients": 100 * max(r["cpu"] for r in results),
            "machine": (100 * server_cpu / elapsed + 100 * sum(r["cpu"] for r in results))
            / (os.cpu_count() or 1)}


def _print(title: str, rows: list[tuple[int, dict[str, float]]]) -> None:
    print(title)
    print("      N  streams  server CPU  per stream  worst subscription  busiest client  "
          "machine")
    first_loss = None
    for size, row in rows:
        flag = ("  (a client process saturated)" if row["clients"] > 90
                else "  (the machine saturated)" if row["machine"] > 90 else "")
        print(f"  {size:>5}  {row['streams']:>7.0f}  {row['server']:>8.1f} %  "
              f"{row['server_per_stream']:>8.2f} %  {100 * row['worst']:>17.1f} %  "
              f"{row['clients']:>12.1f} %  {row['machine']:>5.0f} %{flag}")
        if first_loss is None and row["worst"] < EVERY_FRAME:
            first_loss = size
    if first_loss is None:
        print(f"  every frame delivered at every N measured (up to {rows[-1][0]})")
    else:
        print(f"  every frame delivered below N = {first_loss} (there the worst subscription "
              f"got under {100 * EVERY_FRAME:.0f} % of its frames)")


@contextlib.asynccontextmanager
async def _reference_server() -> AsyncIterator[tuple[str, int]]:
    process = subprocess.Popen(  # noqa: ASYNC220 - started, not waited for
        [sys.executable, "-m", "rtcstate", "serve", "--host", "127.0.0.1", "--port", "0",
         "--secret", SECRET], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    reader = LineReader(process)
    try:
        line = await anyio.to_thread.run_sync(
            lambda: reader.expect(lambda text: text.startswith("listening on"), within=20))
        yield line.split()[-1], process.pid
    finally:
        await anyio.to_thread.run_sync(reader.close)


async def main() -> None:
    reference_rows: list[tuple[int, dict[str, float]]] = []
    async with _reference_server() as (url, pid):
        for size in SIZES:
            reference_rows.append((size, await _measure("reference", url, size, pid)))
            if reference_rows[-1][1]["worst"] < GIVE_UP:
                break
    _print(f"reference room server (one process), all-to-all audio, {WINDOW:.0f} s per load:",
           reference_rows)
    reason = janus_unavailable()
    if reason is not None:
        print(f"Janus capacity skipped: {reason}")
        return
    janus_rows: list[tuple[int, dict[str, float]]] = []
    janus = JanusServer(tag=f"k{int(time.time()) % 10000}", subnet=22)
    await anyio.to_thread.run_sync(janus.__enter__)
    try:
        assert janus.pid is not None
        for size in SIZES:
            janus_rows.append((size, await _measure("janus", janus.url, size, janus.pid)))
            if janus_rows[-1][1]["worst"] < GIVE_UP:
                break
    finally:
        await anyio.to_thread.run_sync(janus.__exit__, None, None, None)
    _print(f"Janus 1.1.2, all-to-all audio, {WINDOW:.0f} s per load:", janus_rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        kind, url, size, names = sys.argv[2:6]
        anyio.run(_worker, kind, url, names.split(","), int(size), backend="asyncio")
    else:
        anyio.run(main, backend="asyncio")
