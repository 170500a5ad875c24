"""The ``SIGNALS_PANEL`` settings dict: defaults, reading and validation."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings

SETTING_NAME = "SIGNALS_PANEL"


@dataclass(frozen=True)
class Option:
    default: Any
    kind: type | tuple[type, ...]
    minimum: int | None = None
    help: str = ""


OPTIONS: dict[str, Option] = {
    "MAX_EVENTS": Option(
        2000,
        int,
        minimum=1,
        help="Dispatches stored per request; later ones are only counted.",
    ),
    "MAX_EVENTS_PER_SENDER": Option(
        100,
        int,
        minimum=1,
        help=(
            "Dispatches stored per (signal, sender) pair, so that a flood such as "
            "post_init for every loaded row leaves room for the rest."
        ),
    ),
    "LIST_SILENT_DISPATCHES": Option(
        False,
        bool,
        help="Also store dispatches that had no receiver (always counted).",
    ),
    "CAPTURE_SEND_SITE": Option(
        True, bool, help="Record the line of your code that sent each signal."
    ),
    "CAPTURE_SQL": Option(
        True,
        bool,
        help=(
            "Keep the SQL text (no parameters) of the first queries each receiver's "
            "own code runs."
        ),
    ),
    "STACK_DEPTH": Option(
        1,
        int,
        minimum=1,
        help="How many of your own frames to keep per dispatch (1: the send site).",
    ),
    "MAX_VALUE_LENGTH": Option(
        200, int, minimum=20, help="Longest rendering of one value."
    ),
    "LOG_FINDINGS": Option(
        True,
        bool,
        help="Log each finding on the 'signals_panel' logger at the end of a request.",
    ),
    "RAISE_ON_RECURSION": Option(
        None,
        (int, type(None)),
        minimum=1,
        help=(
            "Raise SignalRecursionError when a save of a row is nested deeper than "
            "this many levels inside that row's own save signals (None: observe only)."
        ),
    ),
    "IGNORE_SIGNALS": Option(
        ("debug_toolbar.",),
        (list, tuple),
        help="Dotted signal name prefixes never recorded (the toolbar's own signals).",
    ),
    "IGNORE_RECEIVERS": Option(
        ("debug_toolbar.",),
        (list, tuple),
        help=(
            "Receiver name prefixes left out of the panel (the toolbar's own "
            "listeners): a dispatch whose receivers all match is counted but not "
            "shown; one with other receivers too is shown with those only."
        ),
    ),
    "IGNORE_SENDERS": Option(
        ("debug_toolbar.",),
        (list, tuple),
        help="Sender name prefixes never recorded (the toolbar's own store saves).",
    ),
}


def get_config() -> dict[str, Any]:
    """The effective settings: defaults overlaid with the user's valid values.

    Read on every recording (once per request): cheap, and it follows
    ``override_settings`` in tests without a cache to invalidate.
    """
    user = getattr(settings, SETTING_NAME, None)
    config = {name: option.default for name, option in OPTIONS.items()}
    if isinstance(user, dict):
        for name, value in user.items():
            if name in OPTIONS and not validate_option(name, value):
                config[name] = with_defaults(name, value)
    return config


def with_defaults(name: str, value: Any) -> Any:
    """``value`` for option ``name``, with the toolbar's own prefixes kept in
    the IGNORE_* lists: a project's prefixes are added to them, not put in
    their place (the panel never shows the toolbar's own work)."""
    if name in ADDED_TO_DEFAULTS:
        return tuple(dict.fromkeys((*OPTIONS[name].default, *value)))
    return value


# Options whose value is added to the default rather than put in its place.
ADDED_TO_DEFAULTS = ("IGNORE_SIGNALS", "IGNORE_RECEIVERS", "IGNORE_SENDERS")


def validate_option(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for option ``name``, or None."""
    option = OPTIONS[name]
    # bool is an int subclass: a True for MAX_EVENTS is a mistake.
    if isinstance(value, bool) and option.kind is not bool:
        return f"expected {_kind_name(option.kind)}, got a bool"
    if not isinstance(value, option.kind):
        return f"expected {_kind_name(option.kind)}, got {type(value).__name__}"
    value = cast(Any, value)
    if option.minimum is not None and value is not None and value < option.minimum:
        return f"must be at least {option.minimum}, got {value}"
    if option.kind == (list, tuple) and not all(isinstance(v, str) for v in value):
        return "every item must be a string"
    return None


def unknown_option_hint(name: str) -> str:
    close = difflib.get_close_matches(name, OPTIONS, n=1)
    if close:
        return f"Did you mean {close[0]!r}?"
    return "Valid keys: " + ", ".join(sorted(OPTIONS)) + "."


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
