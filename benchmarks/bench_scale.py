"""Scale: a million machines, a server-side monitor of 10,000 rooms, transition tours.

  instances  1,000,000 RemoteTrackPublication machines in one fresh process: seconds, peak RSS
  monitor    10,000 rooms x 10 participants x 2 tracks, one event per track per simulated
             second for 60 simulated seconds, each room on its own dispatcher and virtual clock
             (a server watching every publication): events per second, peak RSS
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
            "peak_rss_mb": peak_rss_mb()}


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
    timed = run_child("tours")
    print("transition tours (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timed.items())
          + "   (target < 100 ms each)")


if __name__ == "__main__":
    main()
