"""Helpers for tests that go through the real toolbar (shared with the demo's tests)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bs4 import BeautifulSoup
from django.dispatch import Signal
from django.test import Client

PANEL_ID = "SignalTimelinePanel"


@contextmanager
def connected(
    signal: Signal, receiver: Callable[..., Any], **kwargs: Any
) -> Iterator[Callable[..., Any]]:
    """Connect ``receiver`` for the duration of a block."""
    signal.connect(receiver, **kwargs)
    try:
        yield receiver
    finally:
        signal.disconnect(
            receiver,
            sender=kwargs.get("sender"),
            dispatch_uid=kwargs.get("dispatch_uid"),
        )


def toolbar_soup(content: bytes) -> BeautifulSoup:
    """The page with the toolbar's shadow-DOM template opened up.

    Toolbar 7+ ships its markup in ``<template shadowrootmode="open">``; CSS
    selectors do not look inside templates, as a browser's document does not.
    """
    soup = BeautifulSoup(content, "html.parser")
    template = soup.find("template", attrs={"shadowrootmode": True})
    if template is None:
        return soup
    return BeautifulSoup(template.decode_contents(), "html.parser")


class ToolbarPage:
    """A page fetched through the real toolbar middleware, and its panel."""

    def __init__(self, client: Client, response: Any) -> None:
        self.client = client
        self.response = response
        toolbar = toolbar_soup(response.content).find(id="djDebug")
        assert toolbar is not None, "the toolbar was not injected"
        self.request_id = toolbar["data-request-id"]

    def panel_html(self) -> BeautifulSoup:
        """The panel as the browser gets it: the toolbar's render_panel view."""
        response = self.client.get(
            "/__debug__/render_panel/",
            {"request_id": self.request_id, "panel_id": PANEL_ID},
        )
        assert response.status_code == 200
        return BeautifulSoup(json.loads(response.content)["content"], "html.parser")

    def stats(self) -> dict[str, Any]:
        from debug_toolbar.toolbar import DebugToolbar

        toolbar = DebugToolbar.fetch(self.request_id, PANEL_ID)
        assert toolbar is not None
        return toolbar.get_panel_by_id(PANEL_ID).get_stats()

    def subtitle(self) -> str:
        small = toolbar_soup(self.response.content).select_one(
            f"#djdt-{PANEL_ID} small"
        )
        assert small is not None
        return " ".join(small.get_text(" ").split())


def run_pytest(settings: str, *args: str, cwd: str | None = None) -> None:
    """Run pytest in a subprocess with other Django settings (one per process),
    and fail with its output unless it passed."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds",
            settings,
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
