from __future__ import annotations

from django.apps import AppConfig


class SignalsPanelConfig(AppConfig):
    name = "signals_panel"
    verbose_name = "Signals panel"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
