"""Scale: a million machines, a server-side monitor of 10,000 rooms, transition tours.

  instances  1,000,000 RemoteTrackPublication machines in one fresh process: seconds, peak RSS
  monitor    10,000 rooms x 10 participants x 2 tracks, one event per track per simulated
             second for 60 simulated seconds, each room on its own dispatcher and virtual clock
             (a server watching every publication): events per second, peak RSS
  timers     1,000,000 rooms entering reconnecting (a reconnect window each pending), leaving
             it and entering it again: microseconds each, bytes per pending timeout
  tours      the transition tour of every built-in machine: milliseconds to generate

Each runs in a fresh subprocess, so peak RSS is its own. ``--rooms N`` scales the monitor down
(``make bench`` runs it full size). Nothing is asserted here: the figures are printed, with the
targets beside them, for the issue tracker and the README.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quiet() -> None:
    """rtcstate logs nothing unless told to: this only makes sure no one told it."""
    import logging

    logging.getLogger("rtcstate").setLevel(logging.WARNING)


def instances(count: int) -> dict[str, float]:
    from rtcstate import RemoteTrackPublicationMachine

    start = time.perf_counter()
    machines = [RemoteTrackPublicationMachine(f"MT{i}", "PA1", "video") for i in range(count)]
    elapsed = time.perf_counter() - start
    assert len(machines) == count
    return {"machines": count, "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}


def monitor(rooms: int, participants: int = 10, tracks: int = 2,
            seconds: int = 60) -> dict[str, float]:
    """Per room: a dispatcher on a virtual clock holding every participant's publications; each
    simulated second every track reports once (switched off, then on again, alternately)."""
    quiet()
    from rtcstate import Dispatcher, RemoteTrackPublicationMachine, VirtualClock
    from rtcstate.models import RemoteTrackSubscribed, RemoteTrackSwitchedOff, RemoteTrackSwitchedOn

    clock = VirtualClock()
    setup = time.perf_counter()
    monitored: list[tuple[Dispatcher, list[tuple[dict[str, Any], dict[str, Any]]]]] = []
    for room in range(rooms):
        dispatcher = Dispatcher(clock=clock)
        events: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for participant in range(participants):
            for track in range(tracks):
                sid = f"MT{room}-{participant}-{track}"
                ids = {"track_sid": sid, "participant_sid": f"PA{room}-{participant}",
                       "kind": "video" if track else "audio"}
                dispatcher.add(RemoteTrackPublicationMachine(sid, str(ids["participant_sid"]),
                                                             "video" if track else "audio"))
                dispatcher.dispatch(RemoteTrackSubscribed.model_validate(ids))
                off = RemoteTrackSwitchedOff.model_validate(ids).model_dump()
                on = RemoteTrackSwitchedOn.model_validate(ids).model_dump()
                events.append((off, on))
        monitored.append((dispatcher, events))
    setup = time.perf_counter() - setup
    start = time.perf_counter()
    applied = 0
    for second in range(seconds):
        clock.advance(1)
        parity = second % 2
        for dispatcher, events in monitored:
            for pair in events:
                dispatcher.dispatch(pair[parity])
                applied += 1
    elapsed = time.perf_counter() - start
    return {"rooms": rooms, "events": applied, "seconds": elapsed,
            "events_per_second": applied / elapsed, "setup_seconds": setup,
            "peak_rss_mb": peak_rss_mb(), "bare_trigger_us": bare_trigger_us()}


REFERENCE_TRIGGER_US = 7.5
"""A bare transitions trigger on the machine the issues' absolute targets were set on."""


def bare_trigger_us() -> float:
    """A bare ``transitions`` trigger here, in µs (median of 5): the yardstick that scales an
    events-per-second figure to the reference machine's."""
    import statistics

    from transitions import Machine

    class Model:
        pass

    model = Model()
    Machine(model=model, states=["a", "b"], initial="a", auto_transitions=False,
            transitions=[["flip", "a", "b"], ["flop", "b", "a"]])
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10_000):
            model.flip()  # type: ignore[attr-defined]
            model.flop()  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - start) / 20_000 * 1e6)
    return statistics.median(samples)


def tours() -> dict[str, float]:
    quiet()
    from rtcstate import SPECS
    from rtcstate.testing import machine_variants, transition_tour

    result = {}
    for kind in SPECS:
        start = time.perf_counter()
        tour = transition_tour(machine_variants(kind))
        result[kind] = (time.perf_counter() - start) * 1000
        assert len(tour.covered) == tour.edges
    return result


def timers(count: int) -> dict[str, float]:
    """``count`` rooms on one dispatcher and virtual clock enter ``reconnecting`` (a 30 s
    reconnect window each pending), leave it, and enter it again: microseconds per enter and
    leave (timed without tracing), and bytes per pending timeout (traced on a tenth of them)."""
    quiet()
    import tracemalloc

    from rtcstate import ConnectOptions, Dispatcher, RoomMachine, VirtualClock

    def rooms(number: int) -> tuple[Any, Any, list[dict[str, object]],
                                    list[dict[str, object]]]:
        clock = VirtualClock()
        dispatcher = Dispatcher(clock=clock)
        names = [f"room{i}" for i in range(number)]
        for name in names:
            room = dispatcher.add(RoomMachine(ConnectOptions(room_name=name, identity="m")))
            room.state = "connected"
        enter: list[dict[str, object]] = [
            {"type": "room.reconnecting", "room_name": n, "error_code": 53001} for n in names]
        leave: list[dict[str, object]] = [
            {"type": "room.reconnected", "room_name": n} for n in names]
        return clock, dispatcher, enter, leave

    def timed(dispatcher: Any, events: list[dict[str, object]]) -> float:
        start = time.perf_counter()
        for event in events:
            dispatcher.dispatch(event)
        return (time.perf_counter() - start) / len(events) * 1e6

    clock, dispatcher, enter, leave = rooms(count)
    first = timed(dispatcher, enter)
    pending = dispatcher.pending_timeouts
    left = timed(dispatcher, leave)
    again = timed(dispatcher, enter)
    _, traced, traced_enter, _ = rooms(count // 10)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for event in traced_enter:
        traced.dispatch(event)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {"timeouts": pending, "bytes_per_timeout": held / (count // 10),
            "enter_us": first, "leave_us": left, "enter_again_us": again,
            "pending_after": dispatcher.pending_timeouts,
            "clock_timers": clock.pending, "traced_pending": traced.pending_timeouts,
            "peak_rss_mb": peak_rss_mb()}


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        what, *rest = options.child
        if what == "instances":
            figures = instances(int(rest[0]))
        elif what == "monitor":
            figures = monitor(int(rest[0]))
        elif what == "timers":
            figures = timers(int(rest[0]))
        else:
            figures = tours()
        print(json.dumps(figures))
        return
    made = run_child("instances", "1000000")
    print(f"1,000,000 machines: {made['seconds']:.2f} s, peak RSS {made['peak_rss_mb']:.0f} MiB"
          "   (target < 10 s, < 1 GB)")
    watched = run_child("monitor", str(options.rooms))
    print(f"monitor, {int(watched['rooms']):,} rooms x 10 participants x 2 tracks x 60 s: "
          f"{int(watched['events']):,} events in {watched['seconds']:.1f} s = "
          f"{watched['events_per_second']:,.0f} events/s, peak RSS "
          f"{watched['peak_rss_mb']:.0f} MiB (set-up {watched['setup_seconds']:.1f} s)")
    scaled = watched["events_per_second"] * watched["bare_trigger_us"] / REFERENCE_TRIGGER_US
    print(f"  a bare transitions trigger takes {watched['bare_trigger_us']:.1f} µs here, "
          f"{REFERENCE_TRIGGER_US} µs on the reference machine: {scaled:,.0f} events/s there "
          "(target >= 300,000)")
    pending = run_child("timers", "1000000")
    print(f"1,000,000 rooms entering reconnecting (a reconnect window each): "
          f"{int(pending['timeouts']):,} timeouts pending, {pending['bytes_per_timeout']:.0f} B "
          f"each (the change and event included); per room: enter {pending['enter_us']:.2f} µs, "
          f"leave {pending['leave_us']:.2f} µs, enter again {pending['enter_again_us']:.2f} µs "
          f"(dispatch included); {int(pending['pending_after']):,} pending after leaving and "
          f"entering again, on {int(pending['clock_timers'])} clock timer; "
          f"peak RSS {pending['peak_rss_mb']:.0f} MiB")
    timed = run_child("tours")
    print("transition tours (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timed.items())
          + "   (target < 100 ms each)")


if __name__ == "__main__":
    main()
