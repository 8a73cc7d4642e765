"""A pytest plugin: at the end of a session, which states and transitions of each machine ran;
the generated conformance paths as a fixture; and a test that made a conformance check without
awaiting it fails.

Enable it with ``-p rtcstate.testing.pytest_plugin`` (or ``pytest_plugins = [...]`` in a
``conftest.py``). ``--rtcstate-require-full-coverage`` (or ``RTCSTATE_REQUIRE_FULL_COVERAGE=1``)
fails a whole-suite run in which some transition never ran; a run narrowed by paths, ``-k``,
``-m`` or ``--deselect`` is never failed for that.

A test that takes a ``conformance_path`` argument runs once per generated path
(:func:`~rtcstate.testing.conformance.conformance_paths`, ids from
:func:`~rtcstate.testing.conformance.path_id`); ``@pytest.mark.rtcstate_conformance("room",
"participant")`` narrows it to some machines. A test whose harness cannot act a step out
(:class:`~rtcstate.testing.conformance.UnsupportedStep`) is reported as skipped, with the reason.
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rtcstate_conformance(*subjects): the machines whose generated paths a "
                   "test taking `conformance_path` runs (room, local_track, remote_track, "
                   "participant; all by default)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_path" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("rtcstate_conformance")
    subjects = marker.args if marker is not None and marker.args else conformance.SUBJECTS
    unknown = [s for s in subjects if s not in conformance.SUBJECTS]
    if unknown:
        raise pytest.UsageError(f"rtcstate_conformance: no generated paths for {unknown}; "
                                f"the machines are {', '.join(conformance.SUBJECTS)}")
    paths = [path for subject in subjects for path in conformance.conformance_paths(subject)]
    metafunc.parametrize("conformance_path", paths, ids=conformance.path_id)


def _required(config: pytest.Config) -> bool:
    return bool(config.getoption("rtcstate_require_full_coverage")) or (
        os.environ.get("RTCSTATE_REQUIRE_FULL_COVERAGE") == "1")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    conformance.never_awaited.clear()
    try:
        result = yield
    except conformance.UnsupportedStep as exc:
        conformance.never_awaited.clear()
        pytest.skip(str(exc))
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
