"""Diagrams rendered from the machine specs: never drawn by hand.

Each spec is first extracted to plain data (:func:`extract`); small renderers turn that data into
text: Mermaid (:func:`to_mermaid`), Graphviz DOT (:func:`to_dot`) and a Markdown table
(:func:`to_table`). SVG is Graphviz's rendering of the DOT text. Every output is deterministic:
the same spec gives the same bytes, so a test can tell when a checked-in diagram is stale.

Edges are styled by the transition's role: reconnect, warning, cleared and escalation
transitions (and failures, retries, local actions) each look different, and are labelled with
the event and the catalog errors they carry. A run's trace (the output of
``rtcstate demo --json``) can be laid over the same pictures: visited states and transitions
highlighted, with a count on each edge.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rtcstate import catalog
from rtcstate.catalog import CatalogEntry
from rtcstate.statemachines import SPECS
from rtcstate.statemachines.spec import MachineSpec, Role

__all__ = [
    "DiagramData",
    "DiagramEdge",
    "DiagramState",
    "GraphvizMissing",
    "Trace",
    "check",
    "extract",
    "read_trace",
    "render_svg",
    "to_dot",
    "to_mermaid",
    "to_table",
    "write",
]

FORMATS = ("mermaid", "svg", "dot")
INSTALL_HINT = "SVG needs Graphviz's 'dot': apt-get install graphviz (Mermaid output still works)"

# Role -> (DOT attributes, Mermaid linkStyle). Colours come from one palette, so both match.
_ROLE_STYLE: dict[Role, tuple[str, str]] = {
    Role.ORDINARY: ('color="#444444"', "stroke:#444444"),
    Role.ACTION: ('color="#1f6feb"', "stroke:#1f6feb"),
    Role.FAILURE: ('color="#cf222e"', "stroke:#cf222e"),
    Role.RETRY: ('color="#bc4c00", style=dashed', "stroke:#bc4c00,stroke-dasharray:6 4"),
    Role.RECONNECT: ('color="#8250df", penwidth=2', "stroke:#8250df,stroke-width:3px"),
    Role.WARNING: ('color="#bf8700", penwidth=2', "stroke:#bf8700,stroke-width:3px"),
    Role.CLEARED: ('color="#1a7f37", penwidth=2', "stroke:#1a7f37,stroke-width:3px"),
    Role.ESCALATION: ('color="#cf222e", penwidth=2.5, style=dashed',
                      "stroke:#cf222e,stroke-width:3px,stroke-dasharray:6 4"),
    Role.FALLBACK: ('color="#0a7ea4", style=dotted', "stroke:#0a7ea4,stroke-dasharray:2 3"),
}
_VISITED = "#fff3b0"
_UNVISITED = "#bbbbbb"


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` is not installed, so no SVG can be made."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


@dataclass(frozen=True, slots=True)
class DiagramState:
    """A state as drawn."""

    name: str
    doc: str
    initial: bool
    terminal: bool
    timeout: str | None


HUB_SOURCES = 4
"""A transition from this many states or more into one state is drawn once, from a hub."""


@dataclass(frozen=True, slots=True)
class DiagramEdge:
    """A transition as drawn: from one source, or from a hub standing for several."""

    trigger: str
    sources: tuple[str, ...]
    dest: str
    role: Role
    guard: str | None
    errors: tuple[str, ...]
    timeout: str | None
    hub_label: str | None = None
    error_summary: str | None = None

    @property
    def source(self) -> str:
        """The node the edge leaves: the state, or the hub."""
        return f"from_{self.trigger}_to_{self.dest}" if self.hub_label else self.sources[0]

    @property
    def keys(self) -> tuple[tuple[str, str, str], ...]:
        """``(source, trigger, dest)`` of every step it stands for: how a trace names them."""
        return tuple((source, self.trigger, self.dest) for source in self.sources)

    @property
    def label(self) -> str:
        """``trigger [guard]``, the errors carried, and ``after ...`` for a timed edge."""
        parts = [self.trigger + (f" [{self.guard}]" if self.guard else "")]
        if self.error_summary:
            parts.append(self.error_summary)
        elif self.errors:
            parts.append(" | ".join(self.errors))
        if self.timeout:
            parts.append(f"after {self.timeout}")
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class DiagramData:
    """A machine as plain data: everything a renderer needs, nothing it must compute."""

    kind: str
    title: str
    doc: str
    states: tuple[DiagramState, ...]
    edges: tuple[DiagramEdge, ...]
    created_by: str | None


@dataclass
class Trace:
    """What a run did: how often each edge ran and which states were entered, per machine."""

    edges: dict[str, Counter[tuple[str, str, str]]] = field(default_factory=dict)
    states: dict[str, set[str]] = field(default_factory=dict)

    def edge_count(self, kind: str, edge: DiagramEdge) -> int:
        """How often ``edge`` of machine ``kind`` ran (from any of its sources)."""
        counts = self.edges.get(kind, Counter())
        return sum(counts[key] for key in edge.keys)

    def visited(self, kind: str, state: str) -> bool:
        """Whether a machine of ``kind`` was ever in ``state``."""
        return state in self.states.get(kind, set())


MAX_LISTED_ERRORS = 4
"""An edge carrying more errors than this is labelled with their phase and count instead."""


def _error_summary(entries: tuple[CatalogEntry, ...], labels: tuple[str, ...],
                   optional: bool) -> str | None:
    if len(labels) > MAX_LISTED_ERRORS:
        phases = tuple(dict.fromkeys(entry.phase for entry in entries))
        named = "/".join(phases)
        if set(entries) == {e for phase in phases for e in catalog.by_phase(phase)}:
            return f"any {named} error ({len(labels)})"
        if all(entry.retryable for entry in entries):
            return f"a retryable {named} error ({len(labels)})"
        return f"{named} errors ({len(labels)}, see the table)"
    if optional and labels:
        return " | ".join(labels) + " | none"
    return None


def extract(spec: MachineSpec) -> DiagramData:
    """The spec as plain data for the renderers."""
    states = tuple(
        DiagramState(s.name, s.doc, s.name == spec.initial, s.terminal,
                     s.timeout.after if s.timeout else None)
        for s in spec.states)
    live = [s.name for s in spec.states if not s.terminal]
    edges = []
    for transition in spec.transitions:
        errors = tuple(dict.fromkeys(
            str(e.code) if e.code is not None else e.name for e in transition.errors))
        guard = transition.guard.name if transition.guard else None
        summary = _error_summary(transition.errors, errors, transition.error_optional)
        if transition.dest is not None and len(transition.source) >= HUB_SOURCES:
            label = ("every live state" if sorted(transition.source) == sorted(live)
                     else ", ".join(transition.source))
            edges.append(DiagramEdge(transition.trigger, transition.source, transition.dest,
                                     transition.role, guard, errors, None, label, summary))
            continue
        for source in transition.source:
            timeout = spec.state(source).timeout
            timed = timeout.after if timeout and timeout.trigger == transition.trigger else None
            edges.append(DiagramEdge(transition.trigger, (source,), transition.dest_from(source),
                                     transition.role, guard, errors, timed, None, summary))
    created_by = spec.created_by.trigger if spec.created_by else None
    return DiagramData(spec.kind, spec.title, spec.doc, states, tuple(edges), created_by)


def read_trace(lines: Iterable[str]) -> Trace:
    """Read ``rtcstate demo --json`` output: one JSON object per transition.

    Raises:
        ValueError: a line is not such an object (its number is in the message).
    """
    trace = Trace()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind, source, event, dest = (record["machine"], record["source"], record["event"],
                                         record["dest"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"trace line {number} is not a transition record: {exc}") from exc
        states = trace.states.setdefault(kind, set())
        states.add(dest)
        if source is None:
            continue  # a creation: the machine appeared in its initial state
        states.add(source)
        trace.edges.setdefault(kind, Counter())[(source, event, dest)] += 1
    return trace


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(data: DiagramData, trace: Trace | None = None) -> str:
    """Graphviz DOT text for ``data`` (with ``trace``: visited parts highlighted, counts)."""
    lines = [
        f'digraph "{data.kind}" {{',
        f'  graph [label="{_dot_text(data.title)}", labelloc=t, fontsize=20, fontname="Helvetica",'
        ' rankdir=LR, nodesep=0.5, ranksep=0.9, pad=0.3];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica",'
        ' fontsize=12];',
        '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.8];',
        '  "__start__" [shape=circle, label="", width=0.22, style=filled,'
        ' fillcolor="#24292f"];',
    ]
    for state in data.states:
        attrs = []
        if state.terminal:
            attrs.append("peripheries=2")
        if state.timeout:
            attrs.append(f'label=<{state.name}<BR/><FONT POINT-SIZE="9" COLOR="#57606a">'
                         f'timeout: {state.timeout}</FONT>>')
        if trace is not None:
            visited = trace.visited(data.kind, state.name)
            attrs.append(f'fillcolor="{_VISITED}"' if visited else f'fontcolor="{_UNVISITED}"')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f'  "{state.name}"{suffix};')
    for edge in data.edges:
        if edge.hub_label:
            lines.append(f'  "{edge.source}" [shape=note, style=filled, fillcolor="#ffffff",'
                         f' color="#8c959f", fontsize=10, label="{_dot_text(edge.hub_label)}"];')
    initial = next(s.name for s in data.states if s.initial)
    start_label = f' [label="{data.created_by}"]' if data.created_by else ""
    lines.append(f'  "__start__" -> "{initial}"{start_label};')
    for edge in data.edges:
        style = _ROLE_STYLE[edge.role][0]
        label = edge.label
        if trace is not None:
            count = trace.edge_count(data.kind, edge)
            label += f"\n× {count}"
            unvisited = f', color="{_UNVISITED}", fontcolor="{_UNVISITED}"'
            style += ", penwidth=3" if count else unvisited
        lines.append(f'  "{edge.source}" -> "{edge.dest}" [label="{_dot_text(label)}", {style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(data: DiagramData, trace: Trace | None = None) -> str:
    """A Mermaid flowchart for ``data`` (flowcharts, unlike state diagrams, style edges)."""
    lines = ["---", f"title: {data.title}", "---", "flowchart LR",
             "  __start__(( ))"]
    for state in data.states:
        shape = ('(["{}"])' if state.terminal else '("{}")').format(
            _mermaid_text(state.name + (f"\ntimeout: {state.timeout}" if state.timeout else "")))
        lines.append(f"  {state.name}{shape}")
    for edge in data.edges:
        if edge.hub_label:
            lines.append(f'  {edge.source}[/"{_mermaid_text(edge.hub_label)}"/]')
    initial = next(s.name for s in data.states if s.initial)
    start = f'-- "{data.created_by}" -->' if data.created_by else "-->"
    lines.append(f"  __start__ {start} {initial}")
    styles = []
    for index, edge in enumerate(data.edges, start=1):
        label = edge.label
        stroke = _ROLE_STYLE[edge.role][1]
        if trace is not None:
            count = trace.edge_count(data.kind, edge)
            label += f"\n× {count}"
            stroke = stroke if count else f"stroke:{_UNVISITED}"
        lines.append(f'  {edge.source} -- "{_mermaid_text(label)}" --> {edge.dest}')
        styles.append(f"  linkStyle {index} {stroke}")
    lines.extend(styles)
    lines.append("  classDef terminal fill:#eaeef2,stroke:#24292f,stroke-width:3px")
    terminal = [s.name for s in data.states if s.terminal]
    if terminal:
        lines.append(f"  class {','.join(terminal)} terminal")
    if trace is not None:
        visited = [s.name for s in data.states if trace.visited(data.kind, s.name)]
        lines.append(f"  classDef visited fill:{_VISITED}")
        if visited:
            lines.append(f"  class {','.join(visited)} visited")
    return "\n".join(lines) + "\n"


def to_table(data: DiagramData) -> str:
    """Markdown tables of the states and of the transitions (trigger, source, dest, guard,
    timeout, catalog error carried)."""
    lines = ["| state | | what it means |", "| --- | --- | --- |"]
    for state in data.states:
        marks = " ".join(m for m, on in (("initial", state.initial),
                                          ("terminal", state.terminal)) if on)
        timeout = f" Times out after {state.timeout}." if state.timeout else ""
        lines.append(f"| `{state.name}` | {marks} | {state.doc}{timeout} |")
    lines += ["", "| trigger | source | dest | role | guard | timeout | errors carried |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for edge in data.edges:
        sources = edge.hub_label if edge.hub_label == "every live state" else ", ".join(
            f"`{s}`" for s in edge.sources)
        lines.append(
            f"| `{edge.trigger}` | {sources} | `{edge.dest}` | {edge.role.value} | "
            f"{edge.guard or ''} | {edge.timeout or ''} | {', '.join(edge.errors)} |")
    return "\n".join(lines) + "\n"


def render_svg(dot: str) -> bytes:
    """SVG from DOT text, by Graphviz.

    Raises:
        GraphvizMissing: ``dot`` is not installed.
    """
    executable = shutil.which("dot")
    if executable is None:
        raise GraphvizMissing
    result = subprocess.run([executable, "-Tsvg"], input=dot.encode(), capture_output=True,
                            check=True)
    return result.stdout


def _readme(datas: list[DiagramData]) -> str:
    lines = [
        "# Diagrams",
        "",
        "Rendered from the machine specs by `rtcstate diagrams`; do not edit by hand",
        "(`rtcstate diagrams --check`, run by the test suite, fails when a file is stale).",
        "",
        "Edges: blue = local action, grey = progress, red = failure (carries its error),",
        "dashed orange = retry, thick purple = reconnect, thick gold = warning,",
        "thick green = cleared, dashed red = escalation, dotted teal = recommended fall-back.",
        "A double border marks a terminal state. A note stands for several source states of",
        "one transition (\"every live state\": all the non-terminal ones).",
        "",
    ]
    for data in datas:
        lines += [f"## {data.title} (`{data.kind}`)", "", data.doc, "",
                  f"![{data.title}]({data.kind}.svg)", "",
                  f"Mermaid source: [{data.kind}.mmd]({data.kind}.mmd).", ""]
        lines.append(to_table(data))
    return "\n".join(lines).rstrip() + "\n"


def _outputs(specs: Mapping[str, MachineSpec], formats: tuple[str, ...],
             trace: Trace | None) -> dict[str, bytes]:
    datas = [extract(spec) for spec in specs.values()]
    files: dict[str, bytes] = {}
    suffix = "-trace" if trace is not None else ""
    for data in datas:
        dot = to_dot(data, trace)
        if "mermaid" in formats:
            files[f"{data.kind}{suffix}.mmd"] = to_mermaid(data, trace).encode()
        if "dot" in formats:
            files[f"{data.kind}{suffix}.dot"] = dot.encode()
        if "svg" in formats:
            files[f"{data.kind}{suffix}.svg"] = render_svg(dot)
    if trace is None:
        files["README.md"] = _readme(datas).encode()
    return files


def write(out: Path, formats: Iterable[str] = ("mermaid", "svg"), *,
          trace: Trace | None = None,
          specs: Mapping[str, MachineSpec] = SPECS) -> list[Path]:
    """Write every machine's diagrams (and, without a trace, ``README.md``) into ``out``.

    Raises:
        ValueError: an unknown format.
        GraphvizMissing: SVG was asked for and Graphviz is not installed (nothing is written).
    """
    chosen = _formats(formats)
    files = _outputs(specs, chosen, trace)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    return written


def check(out: Path, formats: Iterable[str] = ("mermaid", "svg"), *,
          specs: Mapping[str, MachineSpec] = SPECS) -> list[str]:
    """Names of the files in ``out`` that are missing or differ from what :func:`write` makes.

    Raises:
        ValueError: an unknown format.
        GraphvizMissing: SVG was asked for and Graphviz is not installed.
    """
    stale = []
    for name, content in _outputs(specs, _formats(formats), None).items():
        path = out / name
        if not path.exists():
            stale.append(f"{name} (missing)")
        elif path.read_bytes() != content:
            stale.append(f"{name} (stale)")
    return stale


def _formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip() for f in formats if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    return chosen
