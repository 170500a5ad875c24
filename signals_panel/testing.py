"""pytest plugin (registered through the ``pytest11`` entry point).

- fixture ``signal_recording``: a recording of every signal the test
  function sends (its call; not the setting up of fixtures);
- ``assert_no_signal_hazards(recording, allow=...)``: fail with the warning-
  and error-level findings (``severity="info"``: all of them);
- strict mode (``--signals-strict`` or ini ``signals_panel_strict = true``):
  any test whose code produces a warning- or error-level finding fails;
  ``@pytest.mark.signals_panel_allow("double_save", ...)`` allows kinds in one
  test;
- receivers that never run (system check ``signals_panel.W001``: connected
  with a sender Django never sends their signal with) are listed at the end
  of the run; strict mode fails the run on them.

Nothing here imports Django at import time: pytest loads plugins before
Django's settings are configured.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .detectors import Finding
    from .recorder import Recording

STRICT_SEVERITIES = ("error", "warning")
# The recording the signal_recording fixture made for a test, started when the
# test's call starts.
_FIXTURE_RECORDING = pytest.StashKey["Recording"]()
# Set while a test's call runs (a fixture asked for from the test body,
# request.getfixturevalue(), starts recording at once).
_IN_CALL = pytest.StashKey[bool]()
# The W001 warnings found when the session finished, for its summary.
_NEVER_RUN = pytest.StashKey[list[str]]()
# Why they could not be read, if so (shown, never a failure).
_NEVER_RUN_PROBLEM = pytest.StashKey[str]()


def assert_no_signal_hazards(
    recording: Recording | Iterable[Finding],
    *,
    allow: Iterable[str] = (),
    severity: str = "warning",
) -> None:
    """Raise AssertionError listing every finding whose kind is not allowed,
    of ``severity`` or worse ("warning": warnings and errors, the hazards;
    "info": also the notes such as ``repeated_save`` and ``truncated``).

    ``recording`` is a ``Recording`` (from ``signals_panel.record()`` or the
    ``signal_recording`` fixture) or its findings.
    """
    __tracebackhide__ = True
    from .detectors import SEVERITIES
    from .recorder import Recording

    if severity not in SEVERITIES:
        raise ValueError(
            f"Unknown severity {severity!r}; one of {', '.join(SEVERITIES)}."
        )
    findings = recording.findings if isinstance(recording, Recording) else recording
    allowed = set(allow)
    _check_kinds(allowed)
    counted = SEVERITIES[: SEVERITIES.index(severity) + 1]
    left = [
        finding
        for finding in findings
        if finding.kind not in allowed and finding.severity in counted
    ]
    if left:
        raise AssertionError(describe_findings(left))


def describe_findings(findings: list[Finding]) -> str:
    count = len(findings)
    lines = [f"{count} signal hazard{'s' if count != 1 else ''}:"]
    lines.extend(f"- {finding.one_line()}" for finding in findings)
    return "\n".join(lines)


def _check_kinds(kinds: set[str]) -> None:
    from .detectors import KINDS

    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(
            f"Unknown finding kind(s) {', '.join(unknown)}; "
            f"known kinds: {', '.join(KINDS)}."
        )


@pytest.fixture
def signal_recording(request: pytest.FixtureRequest) -> Iterator[Recording]:
    """Records every signal dispatched while the test function runs (from
    the start of its call to its end: whatever order the test's fixtures
    are set up in, their setting up is not part of it)."""
    from .recorder import Recording

    recording = Recording()
    node = request.node
    if isinstance(node, pytest.Function):
        node.stash[_FIXTURE_RECORDING] = recording  # pytest_runtest_call
    if not isinstance(node, pytest.Function) or node.stash.get(_IN_CALL, False):
        # No call of its own to wait for, or asked for during the call.
        recording.start()
    try:
        yield recording
    finally:
        recording.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("signals_panel", "django-signals-panel")
    group.addoption(
        "--signals-strict",
        action="store_true",
        default=None,
        help="Fail tests whose code produces a warning- or error-level signal hazard.",
    )
    parser.addini(
        "signals_panel_strict",
        type="bool",
        default=False,
        help="Fail tests whose code produces a warning- or error-level signal hazard.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "signals_panel_allow(*kinds): finding kinds strict mode accepts in this test.",
    )


def _strict(config: pytest.Config) -> bool:
    option = config.getoption("--signals-strict")
    if option is not None:
        return bool(option)
    return bool(config.getini("signals_panel_strict"))


def _django_ready() -> bool:
    """Whether Django is set up: a project's tests that do not use Django
    (no settings) send no signals for strict mode to judge."""
    from django.apps import apps
    from django.conf import settings

    return settings.configured and apps.ready


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    fixture_recording = item.stash.get(_FIXTURE_RECORDING, None)
    strict = _strict(item.config) and _django_ready()
    item.stash[_IN_CALL] = True
    if fixture_recording is None and not strict:
        return (yield)
    from .recorder import record

    allowed: set[str] = set()
    if strict:
        for marker in item.iter_markers("signals_panel_allow"):
            allowed.update(marker.args)
        _check_kinds(allowed)
    if fixture_recording is not None:
        # The fixture's recording covers the call, and strict mode judges it
        # (one opened here would keep the test's dispatches from it until
        # the test ends).
        recording = fixture_recording
        recording.start()
        try:
            result = yield
        finally:
            recording.stop()
    else:
        with record() as recording:
            try:
                result = yield
            finally:
                # A fixture recording started during the call (its block
                # nests in this one): stopped now, so this one takes it in.
                late = item.stash.get(_FIXTURE_RECORDING, None)
                if late is not None:
                    late.stop()
    if not strict:
        return result
    hazards = [
        finding
        for finding in recording.findings
        if finding.severity in STRICT_SEVERITIES and finding.kind not in allowed
    ]
    if hazards:
        __tracebackhide__ = True
        raise AssertionError("signals_panel strict mode: " + describe_findings(hazards))
    return result


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Find the receivers that never run, once, when the tests are done (the
    ones the tests connected for a while are gone); strict mode fails an
    otherwise passing run on them."""
    if not _django_ready():
        return
    from .checks import check_receivers

    try:
        found = [
            f"{message.obj}: {message.msg} Fix: {message.hint}"
            for message in check_receivers()
        ]
    except Exception as error:  # never the reason a test run fails
        session.config.stash[_NEVER_RUN_PROBLEM] = repr(error)
        return
    session.config.stash[_NEVER_RUN] = found
    if found and _strict(session.config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    problem = config.stash.get(_NEVER_RUN_PROBLEM, None)
    if problem is not None:
        terminalreporter.line(
            f"signals_panel could not read the connected receivers: {problem}",
            yellow=True,
        )
    found = config.stash.get(_NEVER_RUN, [])
    if not found:
        return
    count = len(found)
    terminalreporter.section(
        f"signals_panel: {count} receiver"
        + (" never runs" if count == 1 else "s never run")
        + " (signals_panel.W001)",
        yellow=True,
    )
    for line in found:
        terminalreporter.line(f"- {line}")
    if _strict(config):
        terminalreporter.line("signals_panel strict mode: the run fails on them.")
