"""Generate the exception classes of the coded catalog errors into :mod:`rtcstate.errors`.

Each coded name in ``catalog.toml`` gets one class, named as the SDKs name it, under the class
of every phase it has an entry in, with the code and the SDK's message as its docstring. The
classes are plain source at the end of ``errors.py`` (so type checkers and readers see them),
between two marker lines; this module rewrites that part::

    python -m rtcstate.generate           # rewrite rtcstate/errors.py
    python -m rtcstate.generate --check   # exit 1 if it is out of date

``make generate`` runs both generators (these classes and the diagrams).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rtcstate import catalog
from rtcstate.catalog import CatalogEntry

__all__ = ["BEGIN", "END", "error_classes_source", "generated_module", "main"]

BEGIN = ("# --- generated from catalog.toml by `python -m rtcstate.generate`: do not edit below "
         "-------")
END = "# --- end of the generated classes " + "-" * 58

_PHASE_BASES = {"connect": "ConnectError", "disconnect": "DisconnectError",
                "track": "TrackError", "api": "ApiError"}
_ERRORS_MODULE = Path(__file__).with_name("errors.py")


def _bases(code: int, entries: list[CatalogEntry]) -> list[str]:
    if code in range(20101, 20108):
        return ["AccessTokenError"]
    return list(dict.fromkeys(_PHASE_BASES[entry.phase] for entry in entries))


def _docstring(code: int, entry: CatalogEntry) -> str:
    text = f"{code}: {entry.message}." if entry.message else f"{code}: {entry.cause}"
    wrapped: list[str] = []
    line = '    """'
    for word in text.split():
        if len(line) + 1 + len(word) > 96:
            wrapped.append(line)
            line = "    " + word
        else:
            line = f"{line}{'' if line.endswith(chr(34) * 3) else ' '}{word}"
    wrapped.append(line + '"""')
    return "\n".join(wrapped)


def error_classes_source(entries: tuple[CatalogEntry, ...] | None = None) -> str:
    """The generated part of ``errors.py``, marker lines included."""
    by_name: dict[str, list[CatalogEntry]] = {}
    for entry in entries if entries is not None else catalog.all_entries():
        if entry.code is not None:
            by_name.setdefault(entry.name, []).append(entry)
    out = [BEGIN, ""]
    for name, group in by_name.items():
        code = group[0].code
        assert code is not None
        out += ["", f"class {name}({', '.join(_bases(code, group))}):",
                _docstring(code, group[0]), "", f'    catalog_name = "{name}"', ""]
    out += ["", "__all__ += ["]
    out += [f'    "{name}",' for name in sorted(by_name)]
    out += ["]", END]
    return "\n".join(out) + "\n"


def generated_module(current: str) -> str:
    """``current`` (the text of ``errors.py``) with its generated part brought up to date.

    Raises:
        ValueError: the marker lines are missing.
    """
    begin, end = current.find(BEGIN), current.find(END)
    if begin < 0 or end < begin:
        raise ValueError("errors.py lacks the marker lines of its generated part")
    return current[:begin] + error_classes_source() + current[end + len(END) + 1:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check``, check) the generated classes; the exit status."""
    args = sys.argv[1:] if argv is None else argv
    current = _ERRORS_MODULE.read_text(encoding="utf-8")
    wanted = generated_module(current)
    if args == ["--check"]:
        if wanted != current:
            print(f"{_ERRORS_MODULE} is out of date: run python -m rtcstate.generate",
                  file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m rtcstate.generate [--check]", file=sys.stderr)
        return 2
    if wanted != current:
        _ERRORS_MODULE.write_text(wanted, encoding="utf-8")
        print(f"rewrote {_ERRORS_MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
