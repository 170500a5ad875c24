"""The timeline's rows and their HTML, from real recordings."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.dispatch import Signal

import signals_panel
from signals_panel.panel import build_context
from signals_panel.timeline import MAX_INDENT_DEPTH, _indent
from tests.toolbar import connected

sent = Signal()


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def fails(sender: Any, **kwargs: Any) -> None:
    raise ValueError("broken")


def rendered(recording: Any) -> BeautifulSoup:
    context = build_context(recording.to_dict())
    return BeautifulSoup(f"<table>{context['rows_html']}</table>", "html.parser")


def test_floods_group_only_dispatches_with_the_same_arguments() -> None:
    with connected(sent, noop), signals_panel.record() as recording:
        for _ in range(6):
            sent.send(sender=None, action="pre_add")
        for action in ("pre_add", "post_add", "pre_remove", "post_remove", "x"):
            sent.send(sender=None, action=action)
    soup = rendered(recording)
    (group,) = soup.select("tr.djsp-group")
    # The run of six, and pre_add's next one too: seven alike in a row.
    assert "7 dispatches with the same arguments and receivers" in group.get_text()
    assert "tests.test_timeline.noop" in group.get_text()
    assert len(soup.select("tr.djsp-event:not([data-djsp-member])")) == 4


def test_a_rows_summary_shows_the_arguments_that_tell_dispatches_apart() -> None:
    with connected(sent, noop), signals_panel.record() as recording:
        sent.send(sender=None, action="post_add", pk_set={1, 2}, other="x")
    summary = rendered(recording).select_one(".djsp-receiver-summary")
    assert summary is not None
    notable = summary.select_one(".djsp-notable")
    assert notable is not None
    assert notable.get_text() == "action='post_add' · pk_set={1, 2}"


def test_flags_are_coloured_by_their_findings_severity() -> None:
    with connected(sent, fails), signals_panel.record() as recording:
        sent.send_robust(sender=None)
    row = rendered(recording).select_one("tr.djsp-event")
    assert row is not None
    assert "djsp-flagged-warning" in row["class"]
    flag = row.select_one(".djsp-flag")
    assert flag is not None and "djsp-flag-warning" in flag["class"]


def test_an_error_a_receiver_raised_is_shown_once() -> None:
    with connected(sent, fails), signals_panel.record() as recording:
        with pytest.raises(ValueError):
            sent.send(sender=None)
    errors = rendered(recording).select(".djsp-error")
    assert [error.get_text() for error in errors] == ["ValueError: broken"]


def test_search_text_covers_locations_instances_and_hazards() -> None:
    with connected(sent, fails), signals_panel.record() as recording:
        sent.send_robust(sender=None)
    row = rendered(recording).select_one("tr.djsp-event")
    assert row is not None
    search = row["data-djsp-search"]
    assert "tests/test_timeline.py:" in search
    assert "swallowed_error" in search


def test_deep_rows_indent_in_narrow_steps_up_to_a_limit() -> None:
    steps = [_indent(depth) for depth in range(100)]
    assert steps[:3] == [0, 16, 32]
    assert steps[9] - steps[8] == 3
    assert max(steps) == steps[MAX_INDENT_DEPTH] <= 250
    assert steps[99] == steps[MAX_INDENT_DEPTH]


def test_the_hide_silent_filter_shows_only_when_a_silent_dispatch_is_listed() -> None:
    from django.template.loader import render_to_string

    with connected(sent, noop), signals_panel.record() as recording:
        sent.send(sender=None)
    html = render_to_string(
        "signals_panel/panel.html", build_context(recording.to_dict())
    )
    assert 'name="hide_silent"' not in html
    with signals_panel.record({"LIST_SILENT_DISPATCHES": True}) as recording:
        Signal().send(sender=None)
    html = render_to_string(
        "signals_panel/panel.html", build_context(recording.to_dict())
    )
    assert 'name="hide_silent"' in html


def test_a_group_row_names_its_parent_so_folding_the_parent_hides_it() -> None:
    def floods(sender: Any, **kwargs: Any) -> None:
        for _ in range(6):
            sent.send(sender="inner")

    outer = Signal()
    with (
        connected(outer, floods),
        connected(sent, noop),
        signals_panel.record() as recording,
    ):
        outer.send(sender=None)
    group = rendered(recording).select_one("tr.djsp-group")
    assert group is not None
    assert group["data-djsp-parent"] == "0"


class OwnLookup(Signal):
    """A signal class with its own receiver lookup: its dispatches through
    Django's loop are counted, never stored."""

    def _live_receivers(self, sender: Any) -> Any:
        return super()._live_receivers(sender)


def test_dispatches_no_setting_stores_get_their_own_note_not_truncated() -> None:
    from django.template.loader import render_to_string

    signal = OwnLookup()
    with connected(signal, noop), signals_panel.record() as recording:
        for _ in range(3):
            signal.send_robust(sender=None)
    html = render_to_string(
        "signals_panel/panel.html", build_context(recording.to_dict())
    )
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one(".djsp-truncated") is None
    note = soup.select_one(".djsp-unstorable")
    assert note is not None and note["data-djsp-unstorable"] == "3"
    assert " ".join(note.get_text().split()).startswith(
        "3 dispatches with receivers were counted but cannot be shown: their "
        "signal class has its own _live_receivers()"
    )


def test_stats_of_an_older_version_still_show_their_truncated_note() -> None:
    from django.template.loader import render_to_string

    with (
        connected(sent, noop),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording,
    ):
        for _ in range(3):
            sent.send(sender=None)
    stats = recording.to_dict()
    for key in ("truncated", "unstorable"):
        del stats["summary"][key]
    html = render_to_string("signals_panel/panel.html", build_context(stats))
    note = BeautifulSoup(html, "html.parser").select_one(".djsp-truncated")
    assert note is not None and note["data-djsp-truncated"] == "2"


def test_the_panels_own_errors_are_shown() -> None:
    from django.template.loader import render_to_string

    with connected(sent, noop), signals_panel.record() as recording:
        sent.send(sender=None)
    stats = recording.to_dict()
    html = render_to_string("signals_panel/panel.html", build_context(stats))
    assert "djsp-internal" not in html
    stats["summary"]["internal_errors"] = 2
    html = render_to_string("signals_panel/panel.html", build_context(stats))
    note = BeautifulSoup(html, "html.parser").select_one(".djsp-internal")
    assert note is not None
    assert " ".join(note.get_text().split()).startswith(
        "The panel hit 2 errors of its own while recording: this request's data "
        "may be incomplete."
    )


def relays_failure(sender: Any, **kwargs: Any) -> None:
    sent.send(sender="inner")


def test_one_error_passing_up_through_receivers_is_one_receiver_error() -> None:
    outer = Signal()
    with (
        connected(outer, relays_failure),
        connected(sent, fails),
        signals_panel.record() as recording,
    ):
        with pytest.raises(ValueError):
            outer.send(sender=None)
    assert recording.summary["receiver_errors"] == 1
    rows = {row["signal_name"]: row["errors"] for row in recording.to_dict()["signals"]}
    assert rows == {"signal": 1, "sent": 1}  # the local one is unnamed


def test_a_recursion_error_is_one_receiver_error_past_the_caps_too() -> None:
    from django.db.models.signals import pre_save

    from tests.testapp.models import BlogPost

    def saves_itself(sender: Any, instance: Any, **kwargs: Any) -> None:
        instance.save()

    with (
        connected(pre_save, saves_itself, sender=BlogPost),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 5}) as recording,
    ):
        with pytest.raises(RecursionError):
            BlogPost(title="deep").save()
    assert recording.summary["receiver_errors"] == 1


def test_each_error_send_robust_swallowed_is_counted() -> None:
    with (
        connected(sent, fails),
        connected(sent, lambda sender, **kwargs: 1 / 0),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording,
    ):
        sent.send_robust(sender=None)  # stored
        sent.send_robust(sender=None)  # counted
    assert recording.summary["receiver_errors"] == 4


@pytest.mark.django_db
def test_alike_flagged_dispatches_group_under_a_flagged_group_row() -> None:
    from django.db.models.signals import post_init

    from tests.testapp.models import BlogPost, Comment

    def counts(sender: Any, instance: Any, **kwargs: Any) -> None:
        if instance.pk is not None:
            Comment.objects.filter(post=instance).count()

    BlogPost.objects.bulk_create([BlogPost(title=f"grouped {n}") for n in range(7)])
    with connected(post_init, counts, sender=BlogPost), signals_panel.record() as rec:
        list(BlogPost.objects.filter(title__startswith="grouped "))
    soup = rendered(rec)
    (group,) = soup.select("tr.djsp-group")
    assert "djsp-flagged-warning" in group["class"]
    assert group.select_one(".djsp-flag").get_text() == "query_per_instance"
    members = soup.select(f'tr[data-djsp-member="{group["data-djsp-group"]}"]')
    assert len(members) == 7
