"""Every built-in machine's whole transition tour, against a bare ``transitions`` machine.

For each machine kind, the tour is :func:`rtcstate.testing.transition_tour` over its variants:
walks from fresh machines that together take every edge at least once, so every carried
error, guard, effect and timed state is in it. One sample runs the whole tour once, on fresh
machines made before the clock starts, and gives nanoseconds per event.

  transitions        the baseline: one ``transitions.Machine`` per kind with the same states
                     and edges, no conditions or callbacks, each walk's model added once; a
                     sample resets the models' state and calls the same triggers as methods
                     (``model.connected()``). Where guards choose between destinations for one
                     trigger, the bare machine has one trigger per destination, so that it
                     follows the same walk without evaluating anything.
  apply              pre-validated events through ``LifecycleMachine.apply``
  apply_raw          the same events as dicts (``model_dump(mode="json")``), validated
  dispatch           the dicts through ``Dispatcher.dispatch``: validation, routing, a listener,
                     the timeouts of timed states scheduled and cancelled on a virtual clock
  dispatch+log       the same with the ``rtcstate`` logger at INFO, one line per transition
                     rendered and written to a null device

Samples of all measures are interleaved (each measure once per step, in rotating order), so
that a slow moment of the machine falls on all of them; ``x median`` is the median of the
step-by-step ratios (baseline / measure: how many times faster), ``x p99`` the ratio of the
p99s. Every figure is from this run only. Targets (issue 19): ``dispatch`` >= 2.5x and
``apply_raw`` >= 3x the bare trigger, on every machine, at the median; p99 is printed beside.

``--json`` prints the figures as JSON; ``--samples N`` scales the run (default 1500).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

Sample = Callable[[], float]
"""Run one sample; return nanoseconds per event."""

TARGETS = {"dispatch": 2.5, "apply_raw": 3.0}


def tour_of(kind: str) -> tuple[Any, list[tuple[Callable[[], Any], list[Any]]]]:
    """The spec and the tour of ``kind``: ``(factory, [step, ...])`` per walk."""
    from rtcstate.testing import machine_variants, transition_tour

    factories = machine_variants(kind)
    tour = transition_tour(factories)
    assert len(tour.covered) == tour.edges, f"{kind}: the tour misses edges"
    return factories[0]().spec, [(factories[index], path) for index, path in tour.walks]


class _Model:
    state: str  # set by transitions


def bare_sample(spec: Any, walks: list[tuple[Callable[[], Any], list[Any]]]) -> Sample:
    from transitions import Machine

    # One bare trigger per (source, trigger, dest): guards pick the destination in rtcstate.
    names: dict[tuple[str, str, str], str] = {}
    per_source: dict[tuple[str, str], int] = {}
    for edge in spec.edges():
        count = per_source.get((edge.source, edge.trigger), 0)
        per_source[(edge.source, edge.trigger)] = count + 1
        names[(edge.source, edge.trigger, edge.dest)] = (
            edge.trigger if count == 0 else f"{edge.trigger}_{count}")
    machine = Machine(model=None, states=[state.name for state in spec.states],
                      initial=spec.initial, auto_transitions=False)
    for (source, _trigger, dest), name in names.items():
        machine.add_transition(name, source, dest)
    models = []
    calls: list[list[Callable[[], object]]] = []
    for _factory, path in walks:
        model = _Model()
        machine.add_model(model)
        models.append(model)
        calls.append([getattr(model, names[(s.edge.source, s.edge.trigger, s.edge.dest)])
                      for s in path])
    steps = sum(len(path) for _, path in walks)
    initial = spec.initial

    def sample() -> float:
        for model in models:
            model.state = initial
        start = time.perf_counter_ns()
        for walk in calls:
            for call in walk:
                call()
        elapsed = time.perf_counter_ns() - start
        assert all(model.state == path[-1].edge.dest
                   for model, (_, path) in zip(models, walks, strict=True))
        return elapsed / steps

    return sample


def apply_sample(walks: list[tuple[Callable[[], Any], list[Any]]], *, raw: bool) -> Sample:
    plans = [(factory, [step.event.model_dump(mode="json", exclude_none=True) if raw
                        else step.event for step in path]) for factory, path in walks]
    steps = sum(len(events) for _, events in plans)

    def sample() -> float:
        machines = [factory() for factory, _ in plans]
        start = time.perf_counter_ns()
        for machine, (_, events) in zip(machines, plans, strict=True):
            apply = machine.apply_raw if raw else machine.apply
            for event in events:
                apply(event)
        return (time.perf_counter_ns() - start) / steps

    return sample


def dispatch_sample(walks: list[tuple[Callable[[], Any], list[Any]]]) -> Sample:
    """A dispatcher per walk for the whole run (walks may need the same machine id: a device
    machine's id is its kind), as an application keeps one: each sample registers a fresh
    machine on each and dispatches the walk's events."""
    from rtcstate import Dispatcher, VirtualClock

    heard = [0]

    def listener(change: object) -> None:
        heard[0] += 1

    plans = []
    for factory, path in walks:
        dispatcher = Dispatcher(clock=VirtualClock())
        dispatcher.on_change(listener)
        plans.append((factory, dispatcher, [
            step.event.model_dump(mode="json", exclude_none=True) for step in path]))
    steps = sum(len(events) for _, _, events in plans)
    registered: list[tuple[Any, Any]] = []

    def sample() -> float:
        for dispatcher, machine in registered:
            dispatcher.remove(machine)
        registered.clear()
        for factory, dispatcher, _ in plans:
            registered.append((dispatcher, dispatcher.add(factory())))
        start = time.perf_counter_ns()
        for _, dispatcher, events in plans:
            dispatch = dispatcher.dispatch
            for event in events:
                dispatch(event)
        elapsed = time.perf_counter_ns() - start
        assert not any(d.stats.rejected for _, d, _ in plans), "an event was rejected"
        return elapsed / steps

    return sample


def logged(sample: Sample) -> Sample:
    """``sample`` with the rtcstate logger at INFO into a handler writing to the null device."""
    logger = logging.getLogger("rtcstate")

    def run() -> float:
        level, propagate = logger.level, logger.propagate
        with open(os.devnull, "w") as sink:
            handler = logging.StreamHandler(sink)
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
            try:
                return sample()
            finally:
                logger.removeHandler(handler)
                logger.setLevel(level)
                logger.propagate = propagate

    return run


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def measure(kind: str, samples: int) -> dict[str, Any]:
    spec, walks = tour_of(kind)
    measures: dict[str, Sample] = {
        "transitions": bare_sample(spec, walks),
        "apply": apply_sample(walks, raw=False),
        "apply_raw": apply_sample(walks, raw=True),
        "dispatch": dispatch_sample(walks),
        "dispatch+log": logged(dispatch_sample(walks)),
    }
    taken: dict[str, list[float]] = {name: [] for name in measures}
    order = list(measures.items())
    for index in range(samples):
        if index % 50 == 0:
            gc.collect()
        gc.disable()
        try:
            # Every measure once per step, in turn (the order rotating): a slow moment of the
            # machine falls on all of them alike, and each ratio is taken pair by pair.
            shift = index % len(order)
            for name, sample in order[shift:] + order[:shift]:
                taken[name].append(sample())
        finally:
            gc.enable()
    bare = taken["transitions"]
    bare_p99 = p99(bare)
    figures: dict[str, Any] = {"kind": kind, "events": sum(len(path) for _, path in walks),
                               "walks": len(walks), "measures": {}}
    for name, values in taken.items():
        figures["measures"][name] = {
            "median_us": statistics.median(values) / 1000, "p99_us": p99(values) / 1000,
            "x_median": statistics.median(b / v for b, v in zip(bare, values, strict=True)),
            "x_p99": bare_p99 / p99(values)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1500, help="samples per measure")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    from rtcstate.statemachines import SPECS

    results = [measure(kind, args.samples) for kind in SPECS]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("transition tours: µs per event, and how many times faster than a bare transitions "
          "trigger (median, p99)")
    print(f"{'machine':<14}{'events':>7}  {'measure':<14}{'median':>9}{'p99':>9}"
          f"{'x median':>10}{'x p99':>8}  target")
    failed = 0
    for result in results:
        for name, figure in result["measures"].items():
            target = TARGETS.get(name)
            verdict = ""
            if target is not None:
                ok = figure["x_median"] >= target
                failed += not ok
                verdict = f">= {target}x {'ok' if ok else 'MISSED'}"
            print(f"{result['kind']:<14}{result['events']:>7}  {name:<14}"
                  f"{figure['median_us']:>9.3f}{figure['p99_us']:>9.3f}"
                  f"{figure['x_median']:>10.2f}{figure['x_p99']:>8.2f}  {verdict}")
    print(f"targets missed: {failed}")


if __name__ == "__main__":
    main()
