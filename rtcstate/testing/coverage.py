"""Transition coverage: which edges of which machines a run exercised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from types import TracebackType

from rtcstate.models.state_change import StateChange
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.spec import Edge, MachineSpec

__all__ = ["TransitionCoverage"]


class TransitionCoverage:
    """Counts every state change of every machine in the process while installed.

    Use it as a context manager, or call :meth:`install` and the function it returns::

        with TransitionCoverage() as coverage:
            run_my_scenarios()
        assert not coverage.missing()

    Args:
        specs: the machines to report on (default: every built-in spec).
    """

    def __init__(self, specs: Iterable[MachineSpec] | None = None) -> None:
        self.specs: Mapping[str, MachineSpec] = (
            {spec.kind: spec for spec in specs} if specs is not None else dict(SPECS))
        self.counts: Counter[str] = Counter()
        self._remove: list[object] = []

    def record(self, change: StateChange) -> None:
        """Count one change (the observer :meth:`install` registers); creations are no edge."""
        if change.source is None:
            return
        self.counts[f"{change.machine}:{change.source}--{change.event}-->{change.dest}"] += 1

    def install(self) -> None:
        """Start recording every state change in the process."""
        from rtcstate.statemachines.runtime import observe_transitions

        self._remove.append(observe_transitions(self.record))

    def uninstall(self) -> None:
        """Stop recording."""
        while self._remove:
            remove = self._remove.pop()
            assert callable(remove)
            remove()

    def __enter__(self) -> TransitionCoverage:
        self.install()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.uninstall()

    def edges(self, kind: str) -> list[Edge]:
        """Every edge of machine ``kind``, in spec order."""
        return list(self.specs[kind].edges())

    def covered(self, kind: str) -> list[Edge]:
        """Edges of ``kind`` that ran at least once."""
        return [edge for edge in self.edges(kind) if self.counts[edge.key]]

    def missing(self, kind: str | None = None) -> list[Edge]:
        """Edges that never ran (of ``kind``, or of every machine)."""
        kinds = [kind] if kind else list(self.specs)
        return [edge for k in kinds for edge in self.edges(k) if not self.counts[edge.key]]

    def report(self, *, list_missing: bool = True) -> str:
        """Per machine, covered / total edges and the states never entered.

        With ``list_missing``, one more line for each edge that never ran.
        """
        lines = []
        for kind, spec in self.specs.items():
            edges = self.edges(kind)
            covered = self.covered(kind)
            entered = {spec.initial} | {edge.dest for edge in covered}
            never = [state for state in spec.state_names if state not in entered]
            line = f"{kind:<13} transitions {len(covered):>3}/{len(edges):<3}"
            line += f" states {len(entered)}/{len(spec.states)}"
            if never:
                line += "  never entered: " + ", ".join(never)
            lines.append(line)
            if list_missing:
                lines.extend(f"    never ran: {edge.key}" for edge in edges if edge not in covered)
        return "\n".join(lines)
