"""Every demo scenario through the real toolbar: status, signals, findings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, Client

from tests.toolbar import ToolbarPage

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Seed once; each test then runs in a transaction rolled back after it."""
    with django_db_blocker.unblock():
        call_command("seed_demo", verbosity=0)


def post(path: str, status: int = 200) -> ToolbarPage:
    client = Client(raise_request_exception=False)
    response = client.post(path)
    assert response.status_code == status, response.content[:300]
    return ToolbarPage(client, response)


# Django's test client listens to template_rendered; under runserver nobody does.
TEST_ONLY = {"template_rendered"}


def events(stats: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    return [
        event
        for event in stats["events"]
        if event["signal_name"] not in TEST_ONLY
        and (not names or event["signal_name"] in names)
    ]


def dispatched(stats: dict[str, Any], *names: str) -> list[str]:
    return [event["signal_name"] for event in events(stats, *names)]


def finding_kinds(stats: dict[str, Any]) -> list[str]:
    return [finding["kind"] for finding in stats["findings"]]


def test_the_index_lists_every_scenario(client: Client) -> None:
    from blog.views import SCENARIOS

    response = client.get("/")
    assert response.status_code == 200
    page = ToolbarPage(client, response)
    html = response.content.decode()
    for scenario in SCENARIOS:
        assert f'id="scenario-{scenario.name}"' in html
    assert "Signal timeline" in page.subtitle() or page.subtitle().endswith("ms")


def test_create_user_shows_created_true_then_false_with_the_profile_nested() -> None:
    stats = post("/scenarios/create-user/").stats()
    saves = [e for e in stats["events"] if e["signal_name"] == "post_save"]
    user_saves = [e for e in saves if e["sender"] == "auth.User"]
    assert [e["kwargs"]["created"] for e in user_saves] == ["True", "False"]
    (profile_save,) = [e for e in saves if e["sender"] == "blog.Profile"]
    assert profile_save["parent"] == user_saves[0]["id"]
    assert profile_save["kwargs"]["created"] == "True"
    assert stats["findings"] == []


def test_publish_post_nests_the_custom_signal_under_its_receiver() -> None:
    stats = post("/scenarios/publish-post/").stats()
    assert dispatched(stats) == ["pre_save", "post_save", "post_published"]
    pre_save, post_save, published = events(stats)
    assert pre_save["target"]["pk"] is None
    assert published["parent"] == post_save["id"]
    names = [r["name"] for r in published["receivers"]]
    assert names == ["blog.signals.notify_followers", "blog.signals.ping_search_engine"]


def test_double_save_is_flagged_with_the_receiver_and_its_save_line() -> None:
    stats = post("/scenarios/double-save/").stats()
    assert finding_kinds(stats) == ["double_save"]
    finding = stats["findings"][0]
    assert finding["receiver"] == "blog.signals.welcome_subscriber"
    assert finding["where"].startswith("blog/signals.py:")
    assert finding["sites"][0].startswith("blog/signals.py:")


def test_recursion_ends_on_the_error_page_with_the_chain() -> None:
    page = post("/scenarios/recursion/", status=500)
    stats = page.stats()
    assert "recursive_save" in finding_kinds(stats)
    finding = next(f for f in stats["findings"] if f["kind"] == "recursive_save")
    assert finding["receiver"] == "blog.signals.bump_revision"
    assert "until RecursionError" in finding["message"]
    chain = page.panel_html().select_one(".djsp-chain")
    assert chain is not None and "bump_revision" in chain.get_text()


def test_cycle_across_models_is_a_recursive_save() -> None:
    stats = post("/scenarios/cycle/").stats()
    assert finding_kinds(stats) == ["recursive_save"]
    assert "blog.signals.count_books" in stats["findings"][0]["message"]


def test_likes_send_every_m2m_action_from_both_sides() -> None:
    stats = post("/scenarios/likes/").stats()
    actions = [
        (e["kwargs"]["action"], e["kwargs"]["reverse"])
        for e in stats["events"]
        if e["signal_name"] == "m2m_changed"
    ]
    expected = [
        "pre_add",
        "post_add",
        "pre_remove",
        "post_remove",
        "pre_clear",
        "post_clear",
    ]
    assert actions == [(f"'{a}'", "False") for a in expected] + [
        (f"'{a}'", "True") for a in expected
    ]
    assert stats["findings"] == []
    ran = {call["name"] for e in stats["events"] for call in e["receivers"]}
    assert "blog.signals.notify_author_of_like" not in ran
    (dead,) = [r for r in stats["connected"] if r["never_sent"]]
    assert dead["receiver"] == "blog.signals.notify_author_of_like"
    assert dead["fix"] == "Connect it with sender=BlogPost.liked.through."


def test_delete_post_cascades_to_comments() -> None:
    stats = post("/scenarios/delete-post/").stats()
    assert dispatched(stats, "pre_save", "post_save", "pre_delete", "post_delete") == [
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "post_delete",
    ]
    signals = {(r["signal_name"], r["sender"]): r for r in stats["signals"]}
    assert signals[("pre_delete", "blog.Comment")]["silent"] == 2


def test_bulk_operations_report_the_receivers_they_skipped() -> None:
    stats = post("/scenarios/bulk/").stats()
    assert finding_kinds(stats) == ["signals_bypassed", "signals_bypassed"]
    messages = " ".join(f["message"] for f in stats["findings"])
    assert "update()" in messages and "bulk_create()" in messages
    assert "blog.signals.fill_in_body" in messages


def test_send_robust_failure_is_a_swallowed_error() -> None:
    stats = post("/scenarios/robust/").stats()
    assert finding_kinds(stats) == ["swallowed_error"]
    assert stats["findings"][0]["receiver"] == "blog.signals.send_receipt"
    paid = next(e for e in stats["events"] if e["signal_name"] == "order_paid")
    assert [(r["name"], r["is_async"]) for r in paid["receivers"]] == [
        ("blog.signals.send_receipt", False),
        ("blog.signals.update_stock", False),
        ("blog.signals.record_payment_async", True),
    ]


def test_custom_signal_has_both_receivers() -> None:
    stats = post("/scenarios/custom/").stats()
    assert dispatched(stats) == ["post_published"]
    assert events(stats)[0]["signal"] == "blog.signals.post_published"


def test_many_rows_flood_is_capped_and_later_events_survive() -> None:
    stats = post("/scenarios/many-rows/").stats()
    signals = {(r["signal_name"], r["sender"]): r for r in stats["signals"]}
    flood = signals[("post_init", "blog.Comment")]
    assert (flood["dispatches"], flood["not_stored"]) == (2000, 1900)
    assert dispatched(stats)[-1] == "post_published"
    assert finding_kinds(stats) == ["truncated"]


def test_post_list_flags_the_query_run_for_each_post() -> None:
    stats = post("/scenarios/post-list/").stats()
    inits = events(stats, "post_init")
    assert len(inits) >= 3
    (call,) = inits[0]["receivers"]
    assert call["name"] == "blog.signals.load_like_total"
    (statement,) = call["sql"]
    assert statement["sql"].startswith("SELECT COUNT(*)")
    assert finding_kinds(stats) == ["query_per_instance"]
    (finding,) = stats["findings"]
    assert finding["receiver"] == "blog.signals.load_like_total"
    assert f"for {len(inits)} instances of blog.ListedPost" in finding["message"]


def test_async_view_under_asgi() -> None:
    async def fetch() -> Any:
        client = AsyncClient(raise_request_exception=False)
        return await client.post("/scenarios/async-view/")

    response = async_to_sync(fetch)()
    assert response.status_code == 200
    stats = ToolbarPage(Client(), response).stats()
    assert [(e["signal_name"], e["method"]) for e in events(stats)] == [
        ("pre_save", "send"),
        ("post_save", "send"),
        ("order_paid", "asend"),
    ]
    assert stats["events"][0]["sent_from"].endswith("in async_view")


def test_fetch_request_is_recorded_for_the_history_panel(client: Client) -> None:
    response = client.post(
        "/api/like/", json.dumps({"username": "grace"}), content_type="application/json"
    )
    assert response.status_code == 200
    request_id = response.headers.get("djdt-request-id")
    assert request_id, "the toolbar stores AJAX requests for its History panel"
    from debug_toolbar.toolbar import DebugToolbar

    toolbar = DebugToolbar.fetch(request_id, "SignalTimelinePanel")
    assert toolbar is not None
    stats = toolbar.get_panel_by_id("SignalTimelinePanel").get_stats()
    actions = [e["kwargs"]["action"] for e in stats["events"]]
    assert actions == ["'pre_add'", "'post_add'"]


def test_the_demo_migrations_are_up_to_date() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_retitle_with_update_fields_is_an_unsaved_change() -> None:
    page = post("/scenarios/retitle/")
    stats = page.stats()
    assert finding_kinds(stats) == ["unsaved_change"]
    (finding,) = stats["findings"]
    assert finding["receiver"] == "blog.signals.set_slug"
    assert finding["where"].startswith("blog/signals.py:")
    assert "changes blog.Article.slug" in finding["message"]
    assert "update_fields=frozenset({'title'})" in finding["message"]
    assert finding["sites"][0].startswith("blog/views.py:")
    # What the finding says is what happened.
    assert b"In memory the slug is &#x27;signals-revision-" in page.response.content
    assert b"in the database, &#x27;signals-explained&#x27;." in page.response.content
