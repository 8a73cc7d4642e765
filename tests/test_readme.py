"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


def test_readme_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {}
    for block in BLOCKS:  # later blocks continue earlier ones, as a reader would
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    assert "User should make sure to have a stable internet connection." in printed
    assert "did you mean 'room.connect'?" in printed
    assert "['publishing', 'published', 'warning', 'warning_escalated']" in printed
    assert ("disconnected ['published', 'published', 'warning', 'published', 'backgrounded', "
            "'stopped']") in printed
    assert "disconnected stopped" in printed  # the lost-room rule
    assert "room 'r' in state 'disconnected' cannot take event 'publish'" in printed
