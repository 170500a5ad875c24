"""The panel through the real toolbar: middleware, store, render_panel view."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from bs4 import BeautifulSoup
from django.db.models.signals import post_init, post_save, pre_save
from django.test import AsyncClient, Client, override_settings
from django.test.signals import template_rendered

from signals_panel.panel import subtitle as subtitle_of
from tests.testapp.models import BlogPost
from tests.testapp.signals import order_paid
from tests.toolbar import PANEL_ID, ToolbarPage, connected, run_pytest, toolbar_soup

pytestmark = pytest.mark.django_db(transaction=True)


def noop(sender: Any, **kwargs: Any) -> None:
    pass


async def on_paid_async(sender: Any, **kwargs: Any) -> None:
    pass


def event_rows(panel: BeautifulSoup) -> list[Any]:
    return panel.select("tr.djsp-event")


def test_sidebar_subtitle_counts_dispatches_receivers_and_time(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(post_save, noop, sender=BlogPost), connected(order_paid, noop):
        page = toolbar_get("/posts/create/")
    subtitle = page.subtitle()
    stats = page.stats()
    dispatches = stats["summary"]["dispatches"]
    assert f"{dispatches} dispatches · 2 receivers · " in subtitle
    assert subtitle.endswith(" ms")
    # Number and unit are not split across lines in the side bar.
    assert "\N{NO-BREAK SPACE}ms" in subtitle_of(stats["summary"])


def test_panel_lists_each_dispatch_with_sender_instance_receivers_and_send_site(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(pre_save, noop, sender=BlogPost), connected(order_paid, noop):
        page = toolbar_get("/posts/create/", {"title": "hello"})
    panel = page.panel_html()
    rows = event_rows(panel)
    assert [row.select_one(".djsp-signal").get_text() for row in rows] == [
        "pre_save",
        "order_paid",
    ]
    pre_save_row, paid_row = rows
    assert pre_save_row.select_one(".djsp-signal")["title"] == (
        "django.db.models.signals.pre_save"
    )
    assert pre_save_row.select_one(".djsp-sender").get_text() == "testapp.BlogPost"
    assert "unsaved" in pre_save_row.select_one(".djsp-target").get_text()
    receiver = pre_save_row.select_one(".djsp-receiver-name").get_text()
    assert receiver == "tests.test_panel.noop"
    assert (
        pre_save_row.select_one(".djsp-where")
        .get_text()
        .startswith("tests/test_panel.py:")
    )
    sent_from = pre_save_row.select_one(".djsp-sent-from").get_text()
    assert sent_from.startswith("tests/testapp/views.py:")
    assert sent_from.endswith("in create_post")
    kwargs = dict(
        zip(
            [dt.get_text() for dt in paid_row.select(".djsp-kwargs dt")],
            [dd.get_text() for dd in paid_row.select(".djsp-kwargs dd")],
            strict=True,
        )
    )
    post = BlogPost.objects.get()
    assert kwargs == {"post_id": str(post.pk), "note": "''"}
    signal_rows = {
        (row.select("td")[0].get_text(), row.select("td")[1].get_text())
        for row in panel.select("tr.djsp-signal-row")
    }
    # Counted even though nobody listened.
    assert ("post_init", "testapp.BlogPost") in signal_rows
    assert ("post_save", "testapp.BlogPost") in signal_rows


def test_html_in_values_is_escaped(toolbar_get: Callable[..., ToolbarPage]) -> None:
    with connected(order_paid, noop):
        page = toolbar_get("/posts/create/", {"note": "<script>alert('x')</script>"})
    panel = page.panel_html()
    assert panel.find("script") is None
    values = [dd.get_text() for dd in panel.select(".djsp-kwargs dd")]
    assert "\"<script>alert('x')</script>\"" in values


def test_nested_dispatches_are_indented_under_their_parent(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    def pay_on_save(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        order_paid.send(sender=BlogPost, post_id=instance.pk, note="nested")

    with (
        connected(post_save, pay_on_save, sender=BlogPost),
        connected(order_paid, noop),
    ):
        page = toolbar_get("/posts/create/")
    rows = event_rows(page.panel_html())
    depths = [
        (row.select_one(".djsp-signal").get_text(), row["data-djsp-depth"])
        for row in rows
    ]
    assert depths == [("post_save", "0"), ("order_paid", "1"), ("order_paid", "0")]
    assert rows[1]["data-djsp-parent"] == rows[0]["data-djsp-event"]
    assert (
        rows[1].select_one("[data-djdt-styles]")["data-djdt-styles"]
        == "paddingLeft:16px"
    )


def test_receiver_errors_show_on_the_error_page_panel() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("<i>bad</i> receiver")

    client = Client(raise_request_exception=False)
    with connected(post_save, broken, sender=BlogPost):
        response = client.get("/posts/create/")
    assert response.status_code == 500
    page = ToolbarPage(client, response)
    panel = page.panel_html()
    error = panel.select_one(".djsp-receiver.djsp-failed .djsp-error")
    assert error is not None
    assert error.get_text() == "ValueError: <i>bad</i> receiver"
    assert panel.find("i") is None
    assert page.stats()["summary"]["receiver_errors"] == 1


@override_settings(
    DEBUG_TOOLBAR_CONFIG={
        "IS_RUNNING_TESTS": False,
        "SHOW_TOOLBAR_CALLBACK": "tests.settings.show_toolbar",
        "RENDER_PANELS": True,
    }
)
def test_render_panels_true_renders_the_panel_inside_the_page(client: Client) -> None:
    with connected(order_paid, noop):
        response = client.get("/posts/create/", {"note": "<b>inline</b>"})
    content = toolbar_soup(response.content).find(id=PANEL_ID)
    assert content is not None
    assert [s.get_text() for s in content.select("tr.djsp-event .djsp-signal")] == [
        "order_paid"
    ]
    assert "'<b>inline</b>'" in [
        dd.get_text() for dd in content.select(".djsp-kwargs dd")
    ]
    assert content.find("b", string="inline") is None


def test_the_toolbars_own_work_is_not_recorded(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(post_save, noop), connected(order_paid, noop):
        page = toolbar_get("/posts/create/")
    stats = page.stats()
    assert stats["unit"] == "request"  # findings say "in this request"
    senders = {row["sender"] for row in stats["signals"]}
    assert not any(sender.startswith("debug_toolbar") for sender in senders)
    rows = event_rows(page.panel_html())
    assert [row.select_one(".djsp-signal").get_text() for row in rows] == [
        "post_save",
        "order_paid",
    ]


def test_a_dispatch_the_toolbar_also_listens_to_lists_only_the_users_receivers(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    # The templates panel listens to template_rendered: with a receiver of
    # the user's on it too, the dispatch is shown, without the toolbar's.
    with connected(template_rendered, noop):
        page = toolbar_get("/rendered/")
    stats = page.stats()
    (event,) = [e for e in stats["events"] if e["signal_name"] == "template_rendered"]
    names = [call["name"] for call in event["receivers"]]
    assert f"{__name__}.noop" in names
    assert not any(name.startswith("debug_toolbar.") for name in names)
    (row,) = event_rows(page.panel_html())
    assert "debug_toolbar" not in row.get_text()


def test_rendering_the_panel_runs_no_sql(
    toolbar_get: Callable[..., ToolbarPage], django_assert_num_queries: Any
) -> None:
    with connected(order_paid, noop):
        page = toolbar_get("/posts/create/")
    from debug_toolbar.toolbar import DebugToolbar

    # Reading the store may query (DatabaseStore); building the panel must not.
    toolbar = DebugToolbar.fetch(page.request_id, PANEL_ID)
    assert toolbar is not None
    panel = toolbar.get_panel_by_id(PANEL_ID)
    with django_assert_num_queries(0):
        content = panel.content
        subtitle = panel.nav_subtitle
    assert "order_paid" in content
    assert "1 receiver" in subtitle


def test_an_asgi_request_is_recorded_with_async_receivers() -> None:
    async def fetch() -> Any:
        return await AsyncClient().get("/posts/create-async/")

    with (
        connected(order_paid, on_paid_async),
        connected(post_save, noop, sender=BlogPost),
    ):
        response = async_to_sync(fetch)()
    assert response.status_code == 200
    page = ToolbarPage(Client(), response)
    stats = page.stats()
    events = [(e["signal_name"], e["method"]) for e in stats["events"]]
    assert events == [("post_save", "send"), ("order_paid", "asend")]
    assert stats["events"][1]["receivers"][0]["is_async"] is True
    assert stats["events"][0]["sent_from"].endswith("in create_post_async")


def test_concurrent_requests_each_show_only_their_own_dispatches() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def wait_for_the_other(sender: Any, **kwargs: Any) -> None:
        barrier.wait()

    pages: dict[str, ToolbarPage] = {}
    errors: list[BaseException] = []

    def fetch(note: str) -> None:
        try:
            client = Client()
            response = client.get("/pay/", {"note": note})
            pages[note] = ToolbarPage(client, response)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    with connected(order_paid, wait_for_the_other):
        threads = [
            threading.Thread(target=fetch, args=(note,)) for note in ("one", "two")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    for note, page in pages.items():
        events = page.stats()["events"]
        assert [(e["signal_name"], e["kwargs"]["note"]) for e in events] == [
            ("order_paid", f"'{note}'")
        ]


def test_the_builtin_signals_panel_works_beside_ours(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    page = toolbar_get("/posts/create/")
    soup = toolbar_soup(page.response.content)
    assert soup.find(id="djdt-SignalsPanel") is not None
    assert soup.find(id=f"djdt-{PANEL_ID}") is not None
    response = page.client.get(
        "/__debug__/render_panel/",
        {"request_id": page.request_id, "panel_id": "SignalsPanel"},
    )
    assert response.status_code == 200


def test_a_page_without_the_toolbar_records_nothing(client: Client) -> None:
    with connected(order_paid, noop):
        response = client.get("/posts/create/", {"no_toolbar": "1"})
    assert b"djDebug" not in response.content


@pytest.mark.skipif(
    os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings") != "tests.settings",
    reason="already running with another store",
)
def test_the_panel_tests_pass_with_the_database_store() -> None:
    """The toolbar picks its store at startup: run this module again with it."""
    run_pytest(
        "tests.settings_dbstore",
        # The DatabaseStore's get_or_create from two request threads at once
        # deadlocks SQLite's file lock, and the store does sync ORM work in
        # async requests (SynchronousOnlyOperation): neither is ours.
        "-k",
        "not concurrent and not asgi",
        __file__,
    )


def test_concurrent_asgi_requests_each_show_only_their_own_dispatches() -> None:
    async def fetch_both() -> list[Any]:
        client = AsyncClient()
        return list(
            await asyncio.gather(
                *(client.get("/custom/async/", {"amount": str(n)}) for n in range(4))
            )
        )

    async def slow_receiver(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)

    with connected(order_paid, slow_receiver):
        responses = async_to_sync(fetch_both)()
    for n, response in enumerate(responses):
        events = ToolbarPage(Client(), response).stats()["events"]
        assert [(e["signal_name"], e["kwargs"]) for e in events] == [
            ("order_paid", {"amount": f"'{n}'"})
        ]


def test_the_panel_says_how_many_dispatches_were_not_stored(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    BlogPost.objects.bulk_create([BlogPost(title=str(n)) for n in range(120)])
    with connected(post_init, noop, sender=BlogPost):
        page = toolbar_get("/posts/list/")
    note = page.panel_html().select_one(".djsp-truncated")
    assert note is not None
    assert note["data-djsp-truncated"] == "20"
    text = " ".join(note.get_text().split())
    assert text.startswith(
        "Truncated: 20 dispatches with receivers were counted but not stored"
    )
    assert "100 per signal and sender" in text


def stamp_after_create(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        instance.body = "stamped"
        instance.save()


def saves_itself(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    instance.save()


def test_findings_are_listed_first_and_their_events_are_marked(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(post_save, stamp_after_create, sender=BlogPost):
        page = toolbar_get("/posts/create/")
    assert page.subtitle().endswith(" · 1 hazard")
    panel = page.panel_html()
    (finding,) = panel.select("li.djsp-finding")
    assert "djsp-severity-warning" in finding["class"]
    assert finding.select_one(".djsp-kind").get_text() == "double_save"
    assert finding.select_one(".djsp-culprit .djsp-receiver-name").get_text() == (
        "tests.test_panel.stamp_after_create"
    )
    assert (
        finding.select_one(".djsp-culprit .djsp-where")
        .get_text()
        .startswith("tests/test_panel.py:")
    )
    assert "written twice" in finding.select_one(".djsp-message").get_text()
    assert "update(" in finding.select_one(".djsp-advice").get_text()
    targets = [a["href"] for a in finding.select(".djsp-finding-events a")]
    flagged = [f"#{row['id']}" for row in panel.select("tr.djsp-flagged")]
    assert targets == flagged and len(flagged) == 2


def test_a_request_ending_in_recursion_error_shows_the_chain_on_the_error_page() -> (
    None
):
    post = BlogPost.objects.create(title="loop")
    client = Client(raise_request_exception=False)
    with connected(pre_save, saves_itself, sender=BlogPost):
        response = client.get(f"/posts/{post.pk}/save/")
    assert response.status_code == 500
    assert b"RecursionError" in response.content
    page = ToolbarPage(client, response)
    stats = page.stats()
    stored = [e for e in stats["events"] if e["signal_name"] == "pre_save"]
    assert len(stored) == stats["limits"]["max_events_per_sender"]
    assert stats["summary"]["dispatches"] > len(stats["events"])
    panel = page.panel_html()
    finding = panel.select_one("li.djsp-finding[data-djsp-kind=recursive_save]")
    assert finding is not None
    assert "until RecursionError" in finding.select_one(".djsp-message").get_text()
    chain = [step.get_text() for step in finding.select(".djsp-chain .djsp-step")]
    assert chain[0] == f"pre_save testapp.BlogPost pk={post.pk}"
    assert chain[1].startswith("tests.test_panel.saves_itself (tests/test_panel.py:")
    assert chain[2].startswith("save() at tests/test_panel.py:")
    assert finding.select_one(".djsp-chain").get_text().endswith("→ …")


def test_the_signal_time_is_sent_as_server_timing(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(order_paid, noop):
        page = toolbar_get("/pay/")
    header = page.response.headers["Server-Timing"]
    entry = next(part for part in header.split(", ") if part.startswith(f"{PANEL_ID}_"))
    name, duration, description = entry.split(";")
    assert name == f"{PANEL_ID}_signals"
    assert description == 'desc="Signal dispatches"'
    assert float(duration.removeprefix("dur=")) >= 0


@pytest.mark.skipif(
    os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings") != "tests.settings",
    reason="already running with another store",
)
def test_the_panel_tests_pass_with_the_cache_store() -> None:
    run_pytest("tests.settings_cachestore", __file__)


def test_the_receivers_tab_marks_a_receiver_ran_for_its_own_signal_only() -> None:
    from django.dispatch import Signal

    import signals_panel
    from signals_panel.panel import build_context

    robust_sig = Signal()
    with connected(robust_sig, noop), signals_panel.record() as recording:
        robust_sig.send(sender=None)
    (event,) = recording.to_dict()["events"]
    event["signal"] = "app.robust_sig"
    event["receivers"] = [
        {**event["receivers"][0], "name": "app.failing", "ran": True},
        {**event["receivers"][0], "name": "app.after", "ran": False},
    ]
    stats = {
        "events": [event],
        "connected": [
            {"signal": signal, "signal_name": signal[4:], "receiver": name}
            for signal in ("app.raising_sig", "app.robust_sig")
            for name in ("app.failing", "app.after")
        ],
    }
    marks = [
        (receiver["signal"], receiver["receiver"], receiver["ran"])
        for receiver in build_context(stats)["connected"]
    ]
    assert marks == [
        ("app.raising_sig", "app.failing", False),
        ("app.raising_sig", "app.after", False),
        ("app.robust_sig", "app.failing", True),
        ("app.robust_sig", "app.after", False),
    ]


def test_the_receivers_tab_leaves_out_the_toolbars_own_receivers() -> None:
    from django.core.signals import setting_changed

    from signals_panel.panel import all_connected_receivers

    names = [r["receiver"] for r in all_connected_receivers(("debug_toolbar.",))]
    everything = [
        r["receiver"]
        for r in all_connected_receivers()
        if r["signal"] == "django.core.signals.setting_changed"
    ]
    assert setting_changed.receivers  # the toolbar listens to it
    assert any(name.startswith("debug_toolbar.") for name in everything)
    assert not any(name.startswith("debug_toolbar.") for name in names)


def test_enabling_the_panel_twice_keeps_one_recording() -> None:
    from debug_toolbar.toolbar import DebugToolbar
    from django.test import RequestFactory

    from signals_panel.instrumentation import is_installed

    request = RequestFactory().get("/")
    toolbar = DebugToolbar(request, lambda request: None)
    panel = toolbar.get_panel_by_id(PANEL_ID)
    panel.enable_instrumentation()
    panel.enable_instrumentation()
    panel.disable_instrumentation()
    panel.disable_instrumentation()
    assert not is_installed()
