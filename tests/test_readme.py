"""The README's Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
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
    assert "toast: recording-media-lost" in printed  # a handler, with the machine's error
    assert "['alice-microphone-1.wav']" in printed  # the recording bot, over real WebRTC
    assert ("['idle -> connecting', 'connecting -> waiting_to_retry (53000)', "
            "'waiting_to_retry -> connecting', 'connecting -> connected', "
            "'connected -> disconnected']") in printed  # handlers from the first transition
    assert "room 'r' in state 'disconnected' cannot take event 'publish'" in printed


def test_readme_examples_type_check_strictly(tmp_path: Path) -> None:
    """Each block on its own, ``mypy --strict``, without pydantic's plugin (no config)."""
    files = []
    for index, block in enumerate(BLOCKS):
        path = tmp_path / f"readme_block_{index}.py"
        path.write_text(block, encoding="utf-8")
        files.append(str(path))
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                             "--config-file", str(tmp_path / "mypy.ini"), *files],
                            capture_output=True, text=True, timeout=300, check=False,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout
