"""The SQL each receiver's own code ran: kept as text (never parameters),
capped, escaped in the panel."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.dispatch import Signal

import signals_panel
from signals_panel.panel import build_context
from signals_panel.recorder import (
    MAX_SQL_LENGTH,
    MAX_SQL_PER_RECEIVER,
    MAX_SQL_PER_RECORDING,
)
from tests.testapp.models import BlogPost, Comment
from tests.toolbar import ToolbarPage, connected

pytestmark = pytest.mark.django_db

inner = Signal()


def counts_comments(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    Comment.objects.filter(post=instance).count()
    inner.send(sender=BlogPost, post=instance)


def stamps_title(sender: Any, post: BlogPost, **kwargs: Any) -> None:
    BlogPost.objects.filter(pk=post.pk).update(title="stamped")


def statements(call: Any) -> list[str]:
    return [text for text, _ms, _many in call.sql or ()]


def test_each_receiver_keeps_the_sql_its_own_code_ran() -> None:
    with (
        connected(post_save, counts_comments, sender=BlogPost),
        connected(inner, stamps_title),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="t")
    (outer,) = recording.dispatches("post_save")[0].receivers
    (nested,) = recording.dispatches("inner")[0].receivers
    (count,) = statements(outer)
    assert count.startswith("SELECT COUNT(*)")
    assert '"testapp_comment"' in count
    (update,) = statements(nested)
    assert update.startswith('UPDATE "testapp_blogpost" SET "title" = %s')
    # The outer receiver's count still includes what it caused.
    assert (outer.queries, nested.queries) == (2, 1)


def test_parameters_are_never_kept() -> None:
    def looks_up(sender: Any, **kwargs: Any) -> None:
        BlogPost.objects.filter(title="hunter2-secret").exists()

    with connected(inner, looks_up), signals_panel.record() as recording:
        inner.send(sender=None)
    (call,) = recording.events[0].receivers
    (text,) = statements(call)
    assert "%s" in text
    assert "hunter2" not in json.dumps(recording.to_dict())


def test_a_receiver_keeps_its_first_statements_and_counts_the_rest() -> None:
    runs = MAX_SQL_PER_RECEIVER + 5

    def chatty(sender: Any, **kwargs: Any) -> None:
        for n in range(runs):
            BlogPost.objects.filter(pk=n).exists()

    with connected(inner, chatty), signals_panel.record() as recording:
        inner.send(sender=None)
    (call,) = recording.to_dict()["events"][0]["receivers"]
    assert (len(call["sql"]), call["sql_not_kept"], call["queries"]) == (
        MAX_SQL_PER_RECEIVER,
        5,
        runs,
    )
    html = build_context(recording.to_dict())["rows_html"]
    sql = _soup(html).select_one("details.djsp-sql")
    assert sql is not None
    assert sql.summary.get_text() == f"{runs} SQL statements of its own"
    assert len(sql.select("code.djsp-sql-text")) == MAX_SQL_PER_RECEIVER
    assert sql.select_one(".djsp-sql-more").get_text() == "and 5 more, counted only"


def test_a_recording_keeps_a_bounded_number_of_statements() -> None:
    def one_query(sender: Any, **kwargs: Any) -> None:
        BlogPost.objects.exists()

    dispatches = MAX_SQL_PER_RECORDING + 10
    with (
        connected(inner, one_query),
        signals_panel.record(
            {"MAX_EVENTS_PER_SENDER": 10_000, "MAX_EVENTS": 10_000}
        ) as recording,
    ):
        for _ in range(dispatches):
            inner.send(sender=None)
    calls = [event.receivers[0] for event in recording.events]
    assert sum(len(call.sql or ()) for call in calls) == MAX_SQL_PER_RECORDING
    assert sum(call.sql_not_kept for call in calls) == 10


def test_long_statements_are_cut_and_html_in_them_escaped() -> None:
    literal = "<b>" + "x" * (2 * MAX_SQL_LENGTH) + "</b>"

    def raw(sender: Any, **kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT '{literal}'")

    with connected(inner, raw), signals_panel.record() as recording:
        inner.send(sender=None)
    (text,) = statements(recording.events[0].receivers[0])
    assert len(text) <= MAX_SQL_LENGTH
    assert text.startswith("SELECT '<b>xxx") and text.endswith("…")
    html = build_context(recording.to_dict())["rows_html"]
    assert "&lt;b&gt;xxx" in html
    assert _soup(html).find("b") is None


def test_capture_sql_off_keeps_only_the_counts() -> None:
    with (
        connected(post_save, counts_comments, sender=BlogPost),
        connected(inner, stamps_title),
        signals_panel.record({"CAPTURE_SQL": False}) as recording,
    ):
        BlogPost.objects.create(title="t")
    calls = [call for event in recording.events for call in event.receivers]
    assert [call.sql for call in calls] == [None, None]
    assert [call.queries for call in calls] == [2, 1]


def test_executemany_is_marked() -> None:
    def many(sender: Any, **kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE testapp_blogpost SET title = %s WHERE id = %s",
                [("a", -1), ("b", -2)],
            )

    with connected(inner, many), signals_panel.record() as recording:
        inner.send(sender=None)
    ((text, _ms, is_many),) = recording.events[0].receivers[0].sql or []
    assert (text, is_many) == (
        "UPDATE testapp_blogpost SET title = %s WHERE id = %s",
        True,
    )
    html = build_context(recording.to_dict())["rows_html"]
    assert "executemany" in _soup(html).select_one("details.djsp-sql").get_text()


def test_the_panel_shows_a_receivers_sql(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(post_save, counts_comments, sender=BlogPost):
        page = toolbar_get("/posts/create/")
    sql = page.panel_html().select_one("details.djsp-sql")
    assert sql is not None
    assert sql.summary.get_text() == "1 SQL statement of its own"
    assert sql.select_one("code.djsp-sql-text").get_text().startswith("SELECT COUNT(*)")


def _soup(html: str) -> Any:
    from bs4 import BeautifulSoup

    return BeautifulSoup(f"<table>{html}</table>", "html.parser")


def test_past_the_recordings_cap_a_receiver_still_shows_its_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from signals_panel import recorder

    def two_queries(sender: Any, **kwargs: Any) -> None:
        BlogPost.objects.exists()
        BlogPost.objects.exists()

    monkeypatch.setattr(recorder, "MAX_SQL_PER_RECORDING", 2)
    with connected(inner, two_queries), signals_panel.record() as recording:
        inner.send(sender="kept")
        inner.send(sender="past the cap")
    html = build_context(recording.to_dict())["rows_html"]
    last = _soup(html).select("details.djsp-sql")[-1]
    assert last.summary.get_text() == "2 SQL statements of its own"
    assert last.select_one(".djsp-sql-more").get_text().startswith("not kept")


def test_an_inner_blocks_sql_follows_the_outer_recordings_settings() -> None:
    def one_query(sender: Any, **kwargs: Any) -> None:
        BlogPost.objects.exists()

    with (
        connected(inner, one_query),
        signals_panel.record({"CAPTURE_SQL": False}) as outer,
    ):
        with signals_panel.record() as block:
            inner.send(sender=None)
    (kept,) = [call.sql for event in block.events for call in event.receivers]
    assert kept and len(kept) == 1
    calls = [call for event in outer.events for call in event.receivers]
    assert [(call.sql, call.sql_not_kept, call.queries) for call in calls] == [
        (None, 0, 1)
    ]
