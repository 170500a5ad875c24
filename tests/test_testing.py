"""The pytest plugin: the fixture, assert_no_signal_hazards() and strict mode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db.models.signals import post_save

import signals_panel
from signals_panel.testing import assert_no_signal_hazards
from tests.testapp.models import BlogPost
from tests.toolbar import connected

ROOT = Path(__file__).resolve().parent.parent


def stamp_after_create(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        instance.body = "stamped"
        instance.save()


@pytest.mark.django_db
def test_assert_no_signal_hazards_passes_on_a_clean_recording(
    signal_recording: Any,
) -> None:
    BlogPost.objects.create(title="clean")
    assert_no_signal_hazards(signal_recording)


@pytest.mark.django_db
def test_assert_no_signal_hazards_lists_each_finding() -> None:
    with (
        connected(post_save, stamp_after_create, sender=BlogPost),
        signals_panel.record() as rec,
    ):
        BlogPost.objects.create(title="twice")
    with pytest.raises(AssertionError) as failure:
        assert_no_signal_hazards(rec)
    message = str(failure.value)
    assert message.startswith(
        "1 signal hazard:\n- double_save (warning): post_save receiver"
    )
    assert "[tests.test_testing.stamp_after_create at tests/test_testing.py:" in message
    assert "Fix: " in message
    assert_no_signal_hazards(rec, allow=["double_save"])
    assert_no_signal_hazards(rec.findings, allow=["double_save"])


@pytest.mark.django_db
def test_info_findings_fail_the_assertion_only_when_asked() -> None:
    with signals_panel.record() as rec:
        post = BlogPost.objects.create(title="once")
        post.save()  # repeated_save: info
    assert [f.severity for f in rec.findings] == ["info"]
    assert rec.summary["hazards"] == {"error": 0, "warning": 0, "info": 1}
    assert_no_signal_hazards(rec)
    with pytest.raises(AssertionError, match="repeated_save \\(info\\)"):
        assert_no_signal_hazards(rec, severity="info")
    with pytest.raises(ValueError, match="Unknown severity 'notice'"):
        assert_no_signal_hazards(rec, severity="notice")


def test_allow_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="Unknown finding kind"):
        assert_no_signal_hazards([], allow=["double_saves"])


TEST_MODULE = """
import pytest
from django.db.models.signals import post_save
from tests.testapp.models import BlogPost


def stamp(sender, instance, created, **kwargs):
    if created:
        instance.save()


@pytest.fixture
def stamping():
    post_save.connect(stamp, sender=BlogPost)
    yield
    post_save.disconnect(stamp, sender=BlogPost)


@pytest.mark.django_db
def test_double_save(stamping):
    BlogPost.objects.create(title="x")


@pytest.mark.django_db
@pytest.mark.signals_panel_allow("double_save")
def test_double_save_allowed(stamping):
    BlogPost.objects.create(title="x")


@pytest.mark.django_db
def test_clean():
    BlogPost.objects.create(title="x")


@pytest.mark.django_db
def test_double_save_seen_by_the_fixture(stamping, signal_recording):
    BlogPost.objects.create(title="x")
    assert len(signal_recording.dispatches("post_save")) == 2


@pytest.fixture
def saved_in_setup(stamping):
    # A double save while fixtures are set up: not the test's call.
    return BlogPost.objects.create(title="setup")


@pytest.mark.django_db
def test_the_fixture_records_the_call_only(signal_recording, saved_in_setup):
    assert signal_recording.dispatches("post_save") == []


@pytest.mark.django_db
def test_whatever_order_the_fixtures_come_in(saved_in_setup, signal_recording):
    assert signal_recording.dispatches("post_save") == []


@pytest.mark.django_db
def test_double_save_seen_by_the_fixture_asked_for_late(request, stamping):
    recording = request.getfixturevalue("signal_recording")
    BlogPost.objects.create(title="x")
    assert len(recording.dispatches("post_save")) == 2


@pytest.mark.django_db
def test_double_save_inside_a_recording_of_its_own(stamping):
    import signals_panel

    with signals_panel.record() as inner:
        BlogPost.objects.create(title="x")
    assert len(inner.dispatches("post_save")) == 2
"""


def run_plugin_tests(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    ini: str = "",
    modules: dict[str, str] | None = None,
    conftest: str = "",
) -> Any:
    pytester.makepyfile(**(modules or {"test_plugin_module": TEST_MODULE}))
    if conftest:
        pytester.makeconftest(conftest)
    pytester.makeini(f"[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\n{ini}")
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_strict_mode_fails_tests_with_hazards(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_plugin_tests(pytester, monkeypatch, "--signals-strict")
    # Also with the fixture recording, or a record() block inside the test;
    # not for what fixtures did while being set up.
    result.assert_outcomes(passed=4, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*signals_panel strict mode: 1 signal hazard:*",
            "*double_save (warning): post_save receiver test_plugin_module.stamp saves*",
        ]
    )
    for name in (
        "test_double_save",
        "test_double_save_seen_by_the_fixture",
        "test_double_save_seen_by_the_fixture_asked_for_late",
        "test_double_save_inside_a_recording_of_its_own",
    ):
        result.stdout.fnmatch_lines([f"FAILED test_plugin_module.py::{name}*"])


def test_strict_mode_from_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_plugin_tests(pytester, monkeypatch, ini="signals_panel_strict = true")
    result.assert_outcomes(passed=4, failed=4)


def test_without_strict_mode_hazards_do_not_fail_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_plugin_tests(pytester, monkeypatch)
    result.assert_outcomes(passed=8)


def test_strict_mode_leaves_tests_without_django_settings_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_plain="def test_arithmetic():\n    assert 1 + 1 == 2\n")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:django", "--signals-strict"
    )
    result.assert_outcomes(passed=1)


NEVER_RUNS_CONFTEST = """
from django.db.models.signals import m2m_changed
from tests.testapp.models import BlogPost


def on_likes(sender, **kwargs):
    pass


# For the whole session: m2m_changed is never sent with the model as sender.
m2m_changed.connect(on_likes, sender=BlogPost, weak=False)
"""


def run_with_a_receiver_that_never_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str
) -> Any:
    return run_plugin_tests(
        pytester,
        monkeypatch,
        *args,
        modules={"test_clean": "def test_clean():\n    assert True\n"},
        conftest=NEVER_RUNS_CONFTEST,
    )


def test_receivers_that_never_run_are_listed_at_the_end_of_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_with_a_receiver_that_never_runs(pytester, monkeypatch)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*signals_panel: 1 receiver never runs (signals_panel.W001)*",
            "- conftest.on_likes (conftest.py:*): Never runs: connected to "
            "m2m_changed with sender=testapp.BlogPost. * Fix: Connect it with "
            "sender=BlogPost.liked.through.",
        ]
    )
    assert "strict mode" not in result.stdout.str()


def test_strict_mode_fails_a_passing_run_on_a_receiver_that_never_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_with_a_receiver_that_never_runs(
        pytester, monkeypatch, "--signals-strict"
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["signals_panel strict mode: the run fails on them."])


def test_a_run_without_such_receivers_says_nothing_of_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_plugin_tests(pytester, monkeypatch)
    assert "never run" not in result.stdout.str()


def test_a_failure_to_read_the_receivers_is_shown_and_never_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (
        "import signals_panel.wiring\n\n\n"
        "def broken():\n    raise RuntimeError('no registry')\n\n\n"
        "signals_panel.wiring.known_senders = broken\n"
    )
    result = run_plugin_tests(
        pytester,
        monkeypatch,
        "--signals-strict",
        modules={"test_clean": "def test_clean():\n    assert True\n"},
        conftest=broken,
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "signals_panel could not read the connected receivers: "
            "RuntimeError('no registry')"
        ]
    )
