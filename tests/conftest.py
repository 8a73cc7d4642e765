"""Suite-wide fixtures, and the transition-coverage report.

Every state change in the session is counted; the terminal summary prints, per machine, how many
edges ran and which never did. With ``RTCSTATE_REQUIRE_FULL_COVERAGE=1`` (``make test`` sets it)
a whole-suite run fails unless every edge of every machine ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog

from rtcstate.testing import TransitionCoverage

_coverage = TransitionCoverage()


def pytest_sessionstart(session: pytest.Session) -> None:
    _coverage.install()


def _require_full_coverage() -> bool:
    return os.environ.get("RTCSTATE_REQUIRE_FULL_COVERAGE") == "1"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    terminalreporter.section("rtcstate transition coverage")
    total = sum(len(_coverage.edges(kind)) for kind in _coverage.specs)
    missing = _coverage.missing()
    verbose = config.get_verbosity() > 0 or _require_full_coverage()
    terminalreporter.write_line(_coverage.report(list_missing=verbose))
    terminalreporter.write_line(f"exercised {total - len(missing)} of {total} transitions")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _coverage.uninstall()
    option = session.config.option
    start = session.config.invocation_params.dir
    paths = [(start / arg.split("::")[0]).resolve() for arg in session.config.args]
    whole_suite = (not option.keyword and not option.markexpr and not option.deselect
                   and paths == [session.config.rootpath / "tests"])
    if (_require_full_coverage() and whole_suite
            and exitstatus == 0 and _coverage.missing()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nFAILED: some transitions were never exercised (see the coverage section)")


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """The CLI configures structlog for the process; give every test the defaults back."""
    yield
    structlog.reset_defaults()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every anyio test on both backends."""
    return str(request.param)
