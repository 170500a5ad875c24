"""The panel in a real browser: headless Chromium (Debian's package) driven by
Playwright against a live server running the demo.

Screenshots land in artifacts/screenshots/. Without a browser these tests skip
with the reason, except under CI (CI=true), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; Django's ORM calls
# made by the test itself (seeding) are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("SIGNALS_PANEL_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PANEL = "#SignalTimelinePanel"

pytestmark = pytest.mark.django_db(transaction=True)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    if not CHROMIUM:
        _missing("no chromium found (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    call_command("seed_demo", verbosity=0)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.base_url = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def run_scenario(page: Any, name: str) -> None:
    page.goto(page.base_url + "/")
    page.click(f"#scenario-{name} button")
    page.wait_for_load_state("load")


def open_panel(page: Any) -> Any:
    """Open the panel and wait until its script has set it up (it marks the
    root ``data-djsp-ready``): a key pressed before that does nothing. A
    click that lands while the toolbar is still re-rendering (after a
    History switch) is repeated."""
    panel = page.locator(f"{PANEL} [data-djsp-root]")
    ready = page.locator(f"{PANEL} [data-djsp-root][data-djsp-ready]")
    for _attempt in range(3):
        page.click("#djdt-SignalTimelinePanel a")
        try:
            ready.wait_for(state="visible", timeout=10_000)
            return panel
        except Exception:
            page.wait_for_load_state("networkidle")
    ready.wait_for(state="visible")
    return panel


def go_to_the_one_finding(page: Any, scenario: str, kind: str, receiver: str) -> Any:
    """Run ``scenario``, open the panel, check its one finding and follow its
    event link (which reveals and highlights the flagged row); the panel."""
    run_scenario(page, scenario)
    panel = open_panel(page)
    finding = panel.locator("li.djsp-finding")
    assert finding.count() == 1
    assert kind in finding.locator(".djsp-kind").inner_text()
    assert receiver in finding.inner_text()
    finding.locator("[data-djsp-goto]").first.click()
    return panel


def test_open_the_panel_and_read_a_double_save(page: Any) -> None:
    panel = go_to_the_one_finding(
        page, "double_save", "double_save", "welcome_subscriber"
    )
    target = panel.locator("tr.djsp-target-row")
    assert target.count() == 1
    assert target.locator(".djsp-kwargs").is_visible()
    shoot(page, "double-save-light")


def test_expand_and_collapse_a_save_chain(page: Any) -> None:
    run_scenario(page, "cycle")
    panel = open_panel(page)
    rows = panel.locator("tr.djsp-event")
    total = rows.count()
    assert total >= 4
    root_toggle = panel.locator(
        'tr.djsp-event[data-djsp-depth="0"] [data-djsp-action="tree"]'
    ).last
    root_toggle.click()
    visible_after_collapse = panel.locator("tr.djsp-event:visible").count()
    assert visible_after_collapse < total
    root_toggle.click()
    assert panel.locator("tr.djsp-event:visible").count() == total
    # Open one row's details: receivers with their file:line.
    panel.locator('[data-djsp-action="details"]').first.click()
    assert (
        panel.locator(".djsp-details:visible .djsp-where")
        .first.inner_text()
        .startswith("blog/signals.py:")
    )
    chain = panel.locator(".djsp-chain").first.inner_text()
    assert "count_books" in chain and "copy_author_name" in chain
    shoot(page, "cycle-expanded")


def test_an_unsaved_change_is_flagged_and_shown_under_its_receiver(page: Any) -> None:
    panel = go_to_the_one_finding(
        page, "retitle", "unsaved_change", "blog.signals.set_slug"
    )
    note = panel.locator("tr.djsp-target-row .djsp-unsaved-change")
    assert note.is_visible()
    assert note.inner_text().endswith("slug")
    shoot(page, "unsaved-change")


def test_filters_and_search_work_without_a_reload(page: Any) -> None:
    run_scenario(page, "publish_post")
    panel = open_panel(page)
    panel.locator("tr.djsp-event").first.wait_for(state="visible")
    total = panel.locator("tr.djsp-event:visible").count()
    assert total == 3
    panel.locator('select[data-djsp-filter="signal"]').select_option("pre_save")
    visible = panel.locator("tr.djsp-event:visible")
    assert visible.evaluate_all("rows => rows.map(r => r.dataset.djspSignal)") == [
        "pre_save"
    ]
    panel.locator('select[data-djsp-filter="signal"]').select_option("")
    # A nested match keeps its parent visible for context, dimmed.
    panel.locator('input[data-djsp-filter="q"]').fill("ping_search_engine")
    assert panel.locator("tr.djsp-event:visible").count() == 2
    assert panel.locator("tr.djsp-context:visible").count() == 1
    assert "match" in panel.locator("[data-djsp-status]").inner_text()
    panel.locator('input[data-djsp-filter="q"]').fill("")
    panel.locator('select[data-djsp-filter="signal"]').select_option("")
    assert panel.locator("tr.djsp-event:visible").count() == total


def test_receivers_tab_marks_what_ran(page: Any) -> None:
    run_scenario(page, "publish_post")
    panel = open_panel(page)
    panel.locator('[data-djsp-tab="receivers"]').click()
    view = panel.locator('[data-djsp-view="receivers"]')
    assert view.is_visible()
    ran = view.locator("tr.djsp-ran").all_inner_texts()
    assert any("blog.signals.fill_in_body" in text for text in ran)
    assert not panel.locator('[data-djsp-view="timeline"]').is_visible()


def test_receivers_tab_flags_a_receiver_that_never_runs(page: Any) -> None:
    run_scenario(page, "likes")
    panel = open_panel(page)
    tab = panel.locator('[data-djsp-tab="receivers"]')
    assert "⚠ 1" in tab.inner_text()
    tab.click()
    dead = panel.locator('[data-djsp-view="receivers"] tr.djsp-never-sent')
    assert dead.count() == 1
    dead.scroll_into_view_if_needed()
    text = dead.inner_text()
    assert "blog.signals.notify_author_of_like" in text
    assert "Fix: Connect it with sender=BlogPost.liked.through." in text
    shoot(page, "receiver-never-runs")


def test_dark_theme_and_the_recursion_error_page(page: Any) -> None:
    run_scenario(page, "recursion")
    assert "RecursionError" in page.content()
    panel = open_panel(page)
    assert (
        panel.locator('li.djsp-finding[data-djsp-kind="recursive_save"]').count() == 1
    )
    shoot(page, "recursion-light")
    page.click("#djToggleThemeButton")
    theme = page.locator("#djDebug").get_attribute("data-theme")
    if theme != "dark":
        page.click("#djToggleThemeButton")
        theme = page.locator("#djDebug").get_attribute("data-theme")
    assert theme == "dark"
    color = panel.locator(".djsp-severity").first.evaluate(
        "element => getComputedStyle(element).color"
    )
    assert color == "rgb(255, 123, 114)"  # the dark theme's error colour
    shoot(page, "recursion-dark")


def test_the_history_panel_switches_to_a_fetch_request(page: Any) -> None:
    page.goto(page.base_url + "/")
    with page.expect_response("**/api/like/"):
        page.click("#like-by-fetch")
    page.wait_for_selector("#fetch-result:has-text('like')")
    page.click("#djdt-HistoryPanel a")
    history = page.locator("#HistoryPanel")
    row = history.locator("tr:has-text('/api/like/') button.switchHistory").first
    # Opening the History panel loads it and then refreshes its rows: a click
    # on a row that is being replaced is lost, so wait for both to finish.
    row.wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    with page.expect_response(lambda response: "history_sidebar" in response.url):
        row.click()
    page.wait_for_load_state("networkidle")
    panel = open_panel(page)
    signals = panel.locator("tr.djsp-event .djsp-signal").all_inner_texts()
    assert signals == ["m2m_changed", "m2m_changed"]
    shoot(page, "history-fetch")


@pytest.fixture
def csp_page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    settings.MIDDLEWARE = ["demo_site.csp.StrictCSPMiddleware", *settings.MIDDLEWARE]
    call_command("seed_demo", verbosity=0)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.base_url = live_server.url
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.violations = violations
    yield page
    context.close()


def test_the_panel_works_under_a_strict_content_security_policy(csp_page: Any) -> None:
    page = csp_page
    run_scenario(page, "double_save")
    response_csp = page.evaluate("() => document.contentType")
    assert response_csp == "text/html"
    panel = open_panel(page)
    panel.locator('[data-djsp-action="details"]').first.click()
    assert panel.locator(".djsp-details:visible").count() == 1
    # Bars get their geometry through the toolbar's data-djdt-styles (CSSOM).
    width = panel.locator(".djsp-bar > span").first.evaluate("e => e.style.width")
    assert width.endswith("%")
    assert page.violations == []
    shoot(page, "strict-csp")


def test_the_panel_works_without_the_shadow_dom(page: Any, settings: Any) -> None:
    settings.DEBUG_TOOLBAR_CONFIG = {
        **settings.DEBUG_TOOLBAR_CONFIG,
        "USE_SHADOW_DOM": False,
    }
    run_scenario(page, "cycle")
    assert page.evaluate("() => document.getElementById('djDebug') !== null")
    panel = open_panel(page)
    panel.locator('[data-djsp-tab="receivers"]').click()
    assert panel.locator('[data-djsp-view="receivers"]').is_visible()
    panel.locator('[data-djsp-tab="timeline"]').click()
    toggle = panel.locator('[data-djsp-action="tree"]').first
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false"


def test_the_timeline_is_usable_from_the_keyboard(page: Any) -> None:
    run_scenario(page, "publish_post")
    panel = open_panel(page)
    details = panel.locator('[data-djsp-action="details"]').first
    details.focus()
    page.keyboard.press("Enter")
    assert details.get_attribute("aria-expanded") == "true"
    search = panel.locator('input[data-djsp-filter="q"]')
    search.focus()
    page.keyboard.type("fill_in_body")
    assert panel.locator("tr.djsp-event:visible").count() == 1


def test_expand_all_opens_the_flood_groups_and_collapse_all_closes_them(
    page: Any,
) -> None:
    run_scenario(page, "many_rows")
    panel = open_panel(page)
    group = panel.locator("tr.djsp-group").first
    toggle = group.locator('[data-djsp-action="group"]')
    hidden_members = panel.locator("tr.djsp-event[data-djsp-member]:visible")
    assert hidden_members.count() == 0
    panel.locator('[data-djsp-action="expand-all"]').click()
    assert hidden_members.count() > 0
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.get_attribute("aria-label") == "Hide the dispatches of this group"
    panel.locator('[data-djsp-action="collapse-all"]').click()
    assert hidden_members.count() == 0
    assert toggle.get_attribute("aria-label") == "Show the dispatches of this group"


def test_the_tabs_follow_the_arrow_keys(page: Any) -> None:
    run_scenario(page, "publish_post")
    panel = open_panel(page)
    panel.locator('[data-djsp-tab="timeline"]').focus()
    page.keyboard.press("ArrowRight")
    assert panel.locator('[data-djsp-view="signals"]').is_visible()
    page.keyboard.press("End")
    assert panel.locator('[data-djsp-view="receivers"]').is_visible()
    page.keyboard.press("ArrowRight")  # wraps around
    assert panel.locator('[data-djsp-view="timeline"]').is_visible()


def test_receiver_names_in_a_row_sit_on_one_line(page: Any) -> None:
    """The toolbar styles code elements as blocks; the panel's are inline."""
    run_scenario(page, "publish_post")
    panel = open_panel(page)
    names = panel.locator(
        'tr.djsp-event[data-djsp-signal="post_published"] .djsp-receiver-short'
    )
    assert names.count() == 2
    tops = names.evaluate_all(
        "codes => codes.map(code => code.getBoundingClientRect().top)"
    )
    assert tops[0] == tops[1]
