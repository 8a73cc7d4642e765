"""The tour benchmark keeps running (its figures are for `make bench`, not asserted here)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from rtcstate.statemachines import SPECS

BENCHMARKS = pathlib.Path(__file__).parent.parent / "benchmarks"


def test_the_tour_benchmark_measures_every_machine_against_the_bare_trigger() -> None:
    out = subprocess.run([sys.executable, str(BENCHMARKS / "bench_tours.py"), "--samples", "5",
                          "--json"], capture_output=True, text=True, check=True, timeout=120)
    results = json.loads(out.stdout)
    assert [result["kind"] for result in results] == list(SPECS)
    for result in results:
        assert set(result["measures"]) == {"transitions", "apply", "apply_raw", "dispatch",
                                           "dispatch+log"}
        assert result["events"] >= len(SPECS[result["kind"]].transitions)
