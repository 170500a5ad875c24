"""The django-debug-toolbar panel: start a recording per request, show its stats.

The panel is thin on purpose. It may be re-created from the toolbar's store
(ajax rendering, the History panel) with no request and no recording, so
everything it shows is built from ``get_stats()`` alone.
"""

from __future__ import annotations

import logging
from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .detectors import Finding
from .instrumentation import install
from .recorder import Recording

logger = logging.getLogger("signals_panel")
LOG_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}

INDENT_PX = 16
MAX_INDENT_DEPTH = 40


class SignalTimelinePanel(Panel):
    """Every signal dispatched during the request, nested and timed."""

    title = _("Signal timeline")
    nav_title = _("Signal timeline")
    template = "signals_panel/panel.html"
    is_async = True

    _recording: Recording | None = None

    @classmethod
    def ready(cls) -> None:
        install()

    def enable_instrumentation(self) -> None:
        self._recording = Recording()
        self._recording.start()

    def disable_instrumentation(self) -> None:
        if self._recording is not None:
            self._recording.stop()

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        recording = self._recording
        if recording is None:
            return
        self._recording = None
        stats = recording.to_dict()
        if recording.recorder.config["LOG_FINDINGS"]:
            log_findings(stats["findings"], request)
        self.record_stats(stats)

    def generate_server_timing(
        self, request: HttpRequest, response: HttpResponse
    ) -> None:
        summary = self.get_stats().get("summary")
        if summary:
            self.record_server_timing(
                "signals", str(_("Signal receivers")), summary["dispatch_ms"]
            )

    @property
    def nav_subtitle(self) -> str:
        summary = self.get_stats().get("summary")
        if not summary:
            return ""
        return subtitle(summary)

    @property
    def content(self) -> str:
        return render_to_string(self.template, build_context(self.get_stats()))


def log_findings(findings: list[dict[str, Any]], request: HttpRequest) -> None:
    """One line per finding, so the console shows them without the panel."""
    for data in findings:
        finding = Finding.from_dict(data)
        logger.log(
            LOG_LEVELS[finding.severity],
            "%s [%s %s]",
            finding.one_line(),
            request.method,
            request.get_full_path(),
        )


def subtitle(summary: dict[str, Any]) -> str:
    dispatches = summary["dispatches"]
    receivers = summary["receivers_run"]
    parts = [
        ngettext("%(count)d signal", "%(count)d signals", dispatches)
        % {"count": dispatches},
        ngettext("%(count)d receiver", "%(count)d receivers", receivers)
        % {"count": receivers},
        f"{summary['dispatch_ms']:.1f} ms",
    ]
    hazards = sum(summary.get("hazards", {}).values())
    if hazards:
        parts.append(
            ngettext("%(count)d hazard", "%(count)d hazards", hazards)
            % {"count": hazards}
        )
    return " · ".join(parts)


def build_context(stats: dict[str, Any]) -> dict[str, Any]:
    """What the template needs: events in tree order, with their indent."""
    events = stats.get("events", [])
    return {
        "findings": stats.get("findings", []),
        "rows": list(tree_order(events)),
        "signals": stats.get("signals", []),
        "summary": stats.get("summary", {}),
        "limits": stats.get("limits", {}),
        "recorded": bool(stats),
    }


def tree_order(events: list[dict[str, Any]]) -> Any:
    """Yield events depth-first (children under their parent, by start time).

    Iterative, because a save chain can be thousands of levels deep.
    """
    children: dict[int | None, list[dict[str, Any]]] = {}
    known = {event["id"] for event in events}
    for event in events:
        parent = event["parent"] if event["parent"] in known else None
        children.setdefault(parent, []).append(event)
    stack = list(reversed(children.get(None, [])))
    while stack:
        event = stack.pop()
        depth = min(event["depth"], MAX_INDENT_DEPTH)
        yield {**event, "indent": depth * INDENT_PX}
        stack.extend(reversed(children.get(event["id"], [])))
