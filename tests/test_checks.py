"""The SIGNALS_PANEL setting is validated by system checks with stable ids."""

from __future__ import annotations

from django.core import checks
from django.test import override_settings

from signals_panel.conf import OPTIONS, get_config


def signals_panel_messages() -> list[checks.CheckMessage]:
    return [
        m for m in checks.run_checks() if m.id and m.id.startswith("signals_panel.")
    ]


def test_no_setting_is_valid() -> None:
    assert signals_panel_messages() == []
    assert get_config() == {name: option.default for name, option in OPTIONS.items()}


@override_settings(SIGNALS_PANEL={"MAX_EVENTS": 50, "CAPTURE_SEND_SITE": False})
def test_valid_settings_are_used() -> None:
    assert signals_panel_messages() == []
    config = get_config()
    assert config["MAX_EVENTS"] == 50
    assert config["CAPTURE_SEND_SITE"] is False


@override_settings(SIGNALS_PANEL={"IGNORE_RECEIVERS": ["myapp.audit."]})
def test_ignore_prefixes_are_added_to_the_toolbars_own() -> None:
    import signals_panel

    assert get_config()["IGNORE_RECEIVERS"] == ("debug_toolbar.", "myapp.audit.")
    recording = signals_panel.record({"IGNORE_SENDERS": ["myapp."]})
    assert recording.recorder.ignore_senders == ("debug_toolbar.", "myapp.")
    assert recording.recorder.ignore_receivers == ("debug_toolbar.", "myapp.audit.")


@override_settings(SIGNALS_PANEL=["MAX_EVENTS"])
def test_a_setting_that_is_not_a_dict_is_an_error() -> None:
    (message,) = signals_panel_messages()
    assert message.id == "signals_panel.E001"
    assert message.level == checks.ERROR


@override_settings(SIGNALS_PANEL={"MAX_EVENT": 10})
def test_a_misspelt_key_is_an_error_with_a_suggestion() -> None:
    (message,) = signals_panel_messages()
    assert message.id == "signals_panel.E002"
    assert "'MAX_EVENT'" in message.msg
    assert message.hint == "Did you mean 'MAX_EVENTS'?"


@override_settings(
    SIGNALS_PANEL={"MAX_EVENTS": 0, "CAPTURE_SEND_SITE": "yes", "STACK_DEPTH": True}
)
def test_bad_values_are_errors_and_fall_back_to_defaults() -> None:
    messages = signals_panel_messages()
    assert [m.id for m in messages] == ["signals_panel.E003"] * 3
    assert "must be at least 1" in messages[0].msg
    assert "expected bool, got str" in messages[1].msg
    assert "got a bool" in messages[2].msg
    assert "Default: 2000" in (messages[0].hint or "")
    config = get_config()
    assert config["MAX_EVENTS"] == 2000
    assert config["CAPTURE_SEND_SITE"] is True
