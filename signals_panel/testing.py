"""pytest plugin (registered through the ``pytest11`` entry point).

- fixture ``signal_recording``: a recording of every signal the test sends;
- ``assert_no_signal_hazards(recording, allow=...)``: fail with the findings;
- strict mode (``--signals-strict`` or ini ``signals_panel_strict = true``):
  any test whose code produces a warning- or error-level finding fails;
  ``@pytest.mark.signals_panel_allow("double_save", ...)`` allows kinds in one
  test.

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


def assert_no_signal_hazards(
    recording: Recording | Iterable[Finding], *, allow: Iterable[str] = ()
) -> None:
    """Raise AssertionError listing every finding whose kind is not allowed.

    ``recording`` is a ``Recording`` (from ``signals_panel.record()`` or the
    ``signal_recording`` fixture) or its findings.
    """
    from .recorder import Recording

    findings = recording.findings if isinstance(recording, Recording) else recording
    allowed = set(allow)
    _check_kinds(allowed)
    left = [finding for finding in findings if finding.kind not in allowed]
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
def signal_recording() -> Iterator[Recording]:
    """Records every signal dispatched while the test runs."""
    from .recorder import record

    with record() as recording:
        yield recording


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
    if not _strict(item.config) or not _django_ready():
        return (yield)
    from .recorder import record

    allowed: set[str] = set()
    for marker in item.iter_markers("signals_panel_allow"):
        allowed.update(marker.args)
    _check_kinds(allowed)
    # A test that records with the fixture is judged by that recording (one
    # opened here would take the test's dispatches until the test ends).
    recording = getattr(item, "funcargs", {}).get("signal_recording")
    if recording is not None:
        result = yield
    else:
        with record() as recording:
            result = yield
    hazards = [
        finding
        for finding in recording.findings
        if finding.severity in STRICT_SEVERITIES and finding.kind not in allowed
    ]
    if hazards:
        raise AssertionError("signals_panel strict mode: " + describe_findings(hazards))
    return result
