"""The django-debug-toolbar panel: start a recording per request, show its stats.

The panel is thin on purpose. It may be re-created from the toolbar's store
(ajax rendering, the History panel) with no request and no recording, so
everything it shows is built from ``get_stats()`` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .describe import signal_names
from .detectors import SEVERITIES, Finding
from .recorder import Recording
from .timeline import render_rows, timeline_rows
from .wiring import connected_receivers, known_senders

logger = logging.getLogger("signals_panel")
LOG_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


class SignalTimelinePanel(Panel):
    """Every signal dispatched during the request, nested and timed."""

    title = _("Signal timeline")
    nav_title = _("Signal timeline")
    template = "signals_panel/panel.html"
    is_async = True

    _recording: Recording | None = None

    @property
    def scripts(self) -> list[str]:
        return [*super().scripts, static("signals_panel/panel.js")]

    def enable_instrumentation(self) -> None:
        if self._recording is not None and self._recording.recorder.active:
            return  # enabled already: one recording
        self._recording = Recording()
        self._recording.recorder.unit = "request"
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
        stats["connected"] = list(
            all_connected_receivers(recording.recorder.ignore_receivers)
        )
        if recording.recorder.config["LOG_FINDINGS"]:
            log_findings(stats["findings"], request)
            if stats["summary"]["internal_errors"]:
                logger.warning(
                    "The signal timeline hit %d error(s) of its own while recording "
                    "[%s %s]: its data for this request may be incomplete.",
                    stats["summary"]["internal_errors"],
                    request.method,
                    request.get_full_path(),
                )
        self.record_stats(stats)

    def generate_server_timing(
        self, request: HttpRequest, response: HttpResponse
    ) -> None:
        summary = self.get_stats().get("summary")
        if summary:
            self.record_server_timing(
                "signals", str(_("Signal dispatches")), summary["dispatch_ms"]
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


def all_connected_receivers(ignored: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Every receiver connected now to every module-level signal, but those
    whose names start with one of ``ignored`` (the toolbar's own)."""
    senders = known_senders()
    for name, short, signal in signal_names.all_signals():
        if name.startswith("debug_toolbar."):
            continue
        for receiver in connected_receivers(signal, senders):
            if not receiver["receiver"].startswith(ignored):
                yield {"signal": name, "signal_name": short, **receiver}


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
        ngettext("%(count)d dispatch", "%(count)d dispatches", dispatches)
        % {"count": dispatches},
        ngettext("%(count)d receiver", "%(count)d receivers", receivers)
        % {"count": receivers},
        # A no-break space: the side bar wraps the subtitle.
        f"{summary['dispatch_ms']:.2f}\N{NO-BREAK SPACE}ms",
    ]
    hazards = sum(summary.get("hazards", {}).values())
    if hazards:
        parts.append(
            ngettext("%(count)d hazard", "%(count)d hazards", hazards)
            % {"count": hazards}
        )
    return " · ".join(parts)


def build_context(stats: dict[str, Any]) -> dict[str, Any]:
    """What the template needs: rows in tree order with bars, and the tabs."""
    events = stats.get("events", [])
    summary = stats.get("summary", {})
    span = max(
        summary.get("request_ms") or 0.0,
        max((e["start_ms"] + e["duration_ms"] for e in events), default=0.0),
        0.001,
    )
    severities = flag_severities(stats.get("findings", []))
    if severities:
        events = [
            {**event, "flag_severity": severities[event["id"]]}
            if event["id"] in severities
            else event
            for event in events
        ]
    ran = {
        (event["signal"], call["name"])
        for event in events
        for call in event["receivers"]
        if call.get("ran", True)
    }
    connected = [
        {**receiver, "ran": (receiver["signal"], receiver["receiver"]) in ran}
        for receiver in stats.get("connected", [])
    ]
    # Receivers that never run first: the tab's reason to be opened.
    connected.sort(key=lambda receiver: not receiver.get("never_sent"))
    return {
        "findings": stats.get("findings", []),
        "rows_html": render_rows(list(timeline_rows(events, span))),
        "signals": stats.get("signals", []),
        "summary": summary,
        "limits": stats.get("limits", {}),
        # Of the dispatches not stored, those a cap kept out and those no
        # setting would store (stats of older versions have neither key).
        "truncated": summary.get(
            "truncated", summary.get("not_stored", 0) - summary.get("unstorable", 0)
        ),
        "unstorable": summary.get("unstorable", 0),
        "connected": connected,
        "never_sent": sum(1 for receiver in connected if receiver.get("never_sent")),
        "signal_choices": sorted({e["signal_name"] for e in events}),
        "sender_choices": sorted({e["sender"] for e in events}),
        "has_silent": any(not e["receivers"] for e in events),
        "recorded": bool(stats),
    }


def flag_severities(findings: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """Event id -> {finding kind: severity} for the events findings name (the
    most severe when findings of one kind differ)."""
    found: dict[int, dict[str, str]] = {}
    for finding in findings:
        severity = finding["severity"]
        for event_id in finding.get("events", []):
            kinds = found.setdefault(event_id, {})
            known = kinds.get(finding["kind"])
            if known is None or SEVERITIES.index(severity) < SEVERITIES.index(known):
                kinds[finding["kind"]] = severity
    return found
