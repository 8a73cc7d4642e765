"""A pytest plugin: at the end of a session, which states and transitions of each machine ran;
and a test that made a conformance check without awaiting it fails.

Enable it with ``-p rtcstate.testing.pytest_plugin`` (or ``pytest_plugins = [...]`` in a
``conftest.py``). ``--rtcstate-require-full-coverage`` (or ``RTCSTATE_REQUIRE_FULL_COVERAGE=1``)
fails a whole-suite run in which some transition never ran; a run narrowed by paths, ``-k``,
``-m`` or ``--deselect`` is never failed for that.
"""

from __future__ import annotations

import os

import pytest

from rtcstate.testing import conformance
from rtcstate.testing.coverage import TransitionCoverage

__all__ = ["coverage"]

coverage = TransitionCoverage()
"""The session's coverage record (every built-in machine)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rtcstate")
    group.addoption("--rtcstate-require-full-coverage", action="store_true", default=False,
                    help="fail a whole-suite run in which some machine transition never ran")


def _required(config: pytest.Config) -> bool:
    return bool(config.getoption("rtcstate_require_full_coverage")) or (
        os.environ.get("RTCSTATE_REQUIRE_FULL_COVERAGE") == "1")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    conformance.never_awaited.clear()
    result = yield
    missed, conformance.never_awaited[:] = list(conformance.never_awaited), []
    if missed:
        pytest.fail(f"{missed[0]} was never awaited: the path did not run (write "
                    "'await check_path(...)')", pytrace=False)
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    coverage.install()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    terminalreporter.section("rtcstate transition coverage")
    total = sum(len(coverage.edges(kind)) for kind in coverage.specs)
    missing = coverage.missing()
    verbose = config.get_verbosity() > 0 or _required(config)
    terminalreporter.write_line(coverage.report(list_missing=verbose))
    terminalreporter.write_line(f"exercised {total - len(missing)} of {total} transitions")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    coverage.uninstall()
    option = session.config.option
    start = session.config.invocation_params.dir
    paths = [(start / arg.split("::")[0]).resolve() for arg in session.config.args]
    testpaths = [(session.config.rootpath / p).resolve()
                 for p in session.config.getini("testpaths")] or [session.config.rootpath]
    whole_suite = (not option.keyword and not option.markexpr and not option.deselect
                   and paths == testpaths)
    if _required(session.config) and whole_suite and exitstatus == 0 and coverage.missing():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nFAILED: some transitions were never exercised (see the coverage section)")
