"""Cost per event and per instance, against baselines measured in the same run.

Baselines:
  dict floor        a slotted object whose state is looked up in a {(state, trigger): dest} dict
  transitions       a bare transitions.Machine: trigger methods on the model, one add_model per
                    instance (and, for reference, one Machine per instance)

rtcstate figures:
  apply             a pre-validated event through LifecycleMachine.apply (transition, the log
                    line's level check — logging is off, as a library's is by default —,
                    StateChange)
  apply_raw         the same from a dict, Pydantic validation included
  dispatch          the issue's measure: a dict validated and applied through
                    Dispatcher.dispatch (routing, a listener, timeout bookkeeping, the log
                    line's level check); target <= 3 us and >= 2.5x faster than transitions
  new instance      LocalTrackPublicationMachine(...), µs and bytes (tracemalloc)

Every figure is the median of several rounds; ratios compare figures from this run only.
Run with `make bench`. Nothing here is asserted: targets live in the issue tracker.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

ROUNDS = 7
EVENTS = 20_000
INSTANCES = 5_000


def median_ns(run: Callable[[], int], rounds: int = ROUNDS) -> float:
    """Median over ``rounds`` of (elapsed ns / operations) for ``run`` returning its count."""
    samples = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter_ns()
        count = run()
        samples.append((time.perf_counter_ns() - start) / count)
    return statistics.median(samples)


def bytes_per(make: Callable[[], object], count: int = INSTANCES) -> float:
    """Bytes allocated per object kept alive, from tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [make() for _ in range(count)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del kept
    return (total - sys.getsizeof([None] * count)) / count


# -- the dict floor ----------------------------------------------------------------------------

class DictMachine:
    __slots__ = ("state",)
    table = {("published", "disable"): "disabled", ("disabled", "enable"): "published"}

    def __init__(self) -> None:
        self.state = "published"

    def fire(self, trigger: str) -> None:
        self.state = self.table[(self.state, trigger)]


def dict_events() -> int:
    machine = DictMachine()
    for _ in range(EVENTS // 2):
        machine.fire("disable")
        machine.fire("enable")
    return EVENTS


# -- bare transitions --------------------------------------------------------------------------

def transitions_machine(model: object | None = None) -> Any:
    from transitions import Machine

    return Machine(model=model, states=["published", "disabled"], initial="published",
                   transitions=[["disable", "published", "disabled"],
                                ["enable", "disabled", "published"]],
                   auto_transitions=False)


class Model:
    pass


def transitions_events() -> int:
    model = Model()
    transitions_machine(model)
    for _ in range(EVENTS // 2):
        model.disable()  # type: ignore[attr-defined]
        model.enable()  # type: ignore[attr-defined]
    return EVENTS


SHARED = transitions_machine()


def transitions_add_model() -> int:
    for _ in range(INSTANCES // 10):
        model = Model()
        SHARED.add_model(model)
        SHARED.remove_model(model)
    return INSTANCES // 10


def transitions_machine_per_instance() -> int:
    for _ in range(INSTANCES // 20):
        transitions_machine(Model())
    return INSTANCES // 20


def transitions_instance_bytes() -> object:
    model = Model()
    SHARED.add_model(model)
    return model


# -- rtcstate ----------------------------------------------------------------------------------

def rtcstate_setup() -> tuple[Any, Any, Any, Any]:
    from rtcstate import Dispatcher, LocalTrackPublicationMachine
    from rtcstate.models import LocalTrackDisable, LocalTrackEnable

    def published() -> Any:
        track = LocalTrackPublicationMachine("camera", "video")
        track.state = "published"
        return track

    disable = LocalTrackDisable(track_name="camera", kind="video")
    enable = LocalTrackEnable(track_name="camera", kind="video")
    dispatcher = Dispatcher()
    dispatcher.add(published())
    counted = [0]

    def listener(change: Any) -> None:
        counted[0] += 1

    dispatcher.on_change(listener)
    return published, (disable, enable), dispatcher, LocalTrackPublicationMachine


def main() -> None:
    published, (disable, enable), dispatcher, machine_class = rtcstate_setup()
    raw_disable, raw_enable = disable.model_dump(), enable.model_dump()

    def apply_events() -> int:
        track = published()
        for _ in range(EVENTS // 2):
            track.apply(disable)
            track.apply(enable)
        return EVENTS

    def apply_raw_events() -> int:
        track = published()
        for _ in range(EVENTS // 4):
            track.apply_raw(raw_disable)
            track.apply_raw(raw_enable)
        return EVENTS // 2

    def dispatch_events() -> int:
        for _ in range(EVENTS // 4):
            dispatcher.dispatch(raw_disable)
            dispatcher.dispatch(raw_enable)
        return EVENTS // 2

    def new_instances() -> int:
        for _ in range(INSTANCES):
            machine_class("camera", "video")
        return INSTANCES

    def new_dicts() -> int:
        for _ in range(INSTANCES):
            DictMachine()
        return INSTANCES

    floor_event = median_ns(dict_events)
    bare_event = median_ns(transitions_events)
    floor_new = median_ns(new_dicts)
    bare_add_model = median_ns(transitions_add_model)
    bare_per_instance = median_ns(transitions_machine_per_instance)
    floor_bytes = bytes_per(DictMachine)
    bare_bytes = bytes_per(transitions_instance_bytes)
    rows = [
        ("per event", "dict floor", floor_event, None),
        ("per event", "transitions trigger", bare_event, None),
        ("per event", "rtcstate apply", median_ns(apply_events), "event"),
        ("per event", "rtcstate apply_raw", median_ns(apply_raw_events), "event"),
        ("per event", "rtcstate dispatch (target)", median_ns(dispatch_events), "event"),
        ("per instance", "dict floor", floor_new, None),
        ("per instance", "transitions add_model", bare_add_model, None),
        ("per instance", "transitions Machine each", bare_per_instance, None),
        ("per instance", "rtcstate new machine", median_ns(new_instances), "instance"),
    ]
    print(f"{'':<13}{'what':<28}{'µs':>9}{'x dict':>9}{'vs transitions':>17}")
    for group, what, ns, kind in rows:
        floor = floor_event if group == "per event" else floor_new
        bare = bare_event if group == "per event" else bare_add_model
        ratio_bare = f"{bare / ns:>10.2f}x faster" if kind else f"{'':>17}"
        print(f"{group:<13}{what:<28}{ns / 1000:>9.3f}{ns / floor:>9.1f}{ratio_bare}")
    machine_bytes = bytes_per(lambda: machine_class("camera", "video"))
    print()
    print(f"{'bytes per instance':<39}{'B':>10}{'x dict':>10}{'x transitions':>15}")
    for what, size in (("dict floor", floor_bytes), ("transitions add_model", bare_bytes),
                       ("rtcstate new machine", machine_bytes)):
        print(f"{'':<13}{what:<26}{size:>10.0f}{size / floor_bytes:>10.1f}"
              f"{size / bare_bytes:>15.2f}")
    print()
    import_times = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c",
             "import time; t = time.perf_counter(); import rtcstate; "
             "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
        import_times.append(float(out.stdout))
    print(f"import rtcstate (cold process, median of 5): {statistics.median(import_times):.3f} s")


if __name__ == "__main__":
    main()
