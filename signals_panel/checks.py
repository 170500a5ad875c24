"""System checks: the ``SIGNALS_PANEL`` setting (``signals_panel.E00x``) and
receivers connected where Django never sends (``signals_panel.W001``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .conf import OPTIONS, SETTING_NAME, unknown_option_hint, validate_option
from .wiring import dead_connections


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, None)
    if user is None:
        return []
    if not isinstance(user, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(user).__name__}.",
                hint=f"Write {SETTING_NAME} = {{'MAX_EVENTS': 2000}} or remove it.",
                id="signals_panel.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for name, value in user.items():
        if name not in OPTIONS:
            errors.append(
                Error(
                    f"{SETTING_NAME} has an unknown key {name!r}.",
                    hint=unknown_option_hint(str(name)),
                    id="signals_panel.E002",
                )
            )
            continue
        problem = validate_option(name, value)
        if problem:
            errors.append(
                Error(
                    f"{SETTING_NAME}[{name!r}] {problem}.",
                    hint=f"{OPTIONS[name].help} Default: {OPTIONS[name].default!r}.",
                    id="signals_panel.E003",
                )
            )
    return errors


@register()
def check_receivers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Receivers of model signals connected with a sender Django never sends
    them with: they never run, and nothing else says so."""
    return [
        Warning(
            f"Never runs: connected to {dead['signal_name']} with "
            f"sender={dead['sender']}. {dead['never_sent']}",
            hint=dead["fix"],
            # Django prints it first: the receiver, and where it is defined.
            obj=dead["receiver"] + (f" ({dead['where']})" if dead["where"] else ""),
            id="signals_panel.W001",
        )
        for dead in dead_connections()
    ]
