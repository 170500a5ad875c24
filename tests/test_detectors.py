"""Hazards found in real recordings: each kind's positives and the traps that
must not be flagged."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
from django.test import Client, override_settings

import signals_panel
from signals_panel import SignalRecursionError
from signals_panel.detectors import Finding
from tests.testapp.models import Author, BlogPost, Book, Category, Comment
from tests.testapp.signals import order_paid
from tests.toolbar import connected

pytestmark = pytest.mark.django_db
HERE = "tests/test_detectors.py"


def line_containing(func: Any, marker: str) -> int:
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if marker in line)


def kinds(findings: list[Finding]) -> list[str]:
    return [finding.kind for finding in findings]


def only(findings: list[Finding], kind: str) -> Finding:
    matching = [finding for finding in findings if finding.kind == kind]
    assert len(matching) == 1, findings
    return matching[0]


# -- double_save -------------------------------------------------------------


def stamp_body_after_create(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        instance.body = f"post #{instance.pk}"
        instance.save()  # the second write


def test_a_post_save_receiver_that_saves_its_instance_once_is_a_double_save() -> None:
    with connected(post_save, stamp_body_after_create, sender=BlogPost):
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="hello")

    assert kinds(recording.findings) == ["double_save"]
    finding = recording.findings[0]
    assert finding.severity == "warning"
    assert finding.receiver == "tests.test_detectors.stamp_body_after_create"
    assert finding.where == f"{HERE}:{stamp_body_after_create.__code__.co_firstlineno}"
    save_line = line_containing(stamp_body_after_create, "# the second write")
    assert finding.sites == [f"{HERE}:{save_line} in stamp_body_after_create"]
    assert finding.message.startswith(
        "post_save receiver tests.test_detectors.stamp_body_after_create saves "
        "testapp.BlogPost pk="
    )
    assert "written twice" in finding.message
    assert ".objects.filter(pk=instance.pk).update(" in finding.advice
    flagged = [
        event.signal_name for event in recording.events if "double_save" in event.flags
    ]
    assert flagged == ["post_save", "post_save"]


def test_a_fresh_copy_fetched_by_pk_is_the_same_row() -> None:
    def touch_copy(
        sender: Any, instance: BlogPost, created: bool, **kwargs: Any
    ) -> None:
        if created:
            copy = BlogPost.objects.get(pk=instance.pk)
            copy.body = "touched"
            copy.save()

    with (
        connected(post_save, touch_copy, sender=BlogPost),
        signals_panel.record() as rec,
    ):
        BlogPost.objects.create(title="x")
    assert kinds(rec.findings) == ["double_save"]
    assert rec.findings[0].receiver is not None
    assert rec.findings[0].receiver.endswith("touch_copy")


def test_an_async_receiver_that_saves_its_instance_is_a_double_save() -> None:
    async def stamp_async(
        sender: Any, instance: BlogPost, created: bool, **kwargs: Any
    ) -> None:
        if created:
            await asyncio.sleep(0)
            instance.body = "async"
            await instance.asave(update_fields=["body"])

    with (
        connected(post_save, stamp_async, sender=BlogPost),
        signals_panel.record() as rec,
    ):
        BlogPost.objects.create(title="x")
    finding = only(rec.findings, "double_save")
    assert finding.receiver is not None and finding.receiver.endswith("stamp_async")


def test_a_pre_save_receiver_that_saves_once_is_a_double_save_with_its_own_advice() -> (
    None
):
    def guarded(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        if not getattr(instance, "_in_guard", False):
            instance._in_guard = True  # type: ignore[attr-defined]
            instance.save()

    post = BlogPost.objects.create(title="x")
    with connected(pre_save, guarded, sender=BlogPost), signals_panel.record() as rec:
        post.save()
    finding = only(rec.findings, "double_save")
    assert "Do not call save() in a pre_save receiver" in finding.advice


# -- recursive_save ----------------------------------------------------------


def saves_itself(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    instance.save()


def test_pre_save_saving_its_instance_recurses_until_recursion_error() -> None:
    post = BlogPost.objects.create(title="loop")
    with connected(pre_save, saves_itself, sender=BlogPost):
        with signals_panel.record() as recording, pytest.raises(RecursionError):
            post.save()
    finding = only(recording.findings, "recursive_save")
    assert finding.severity == "error"
    assert finding.receiver == "tests.test_detectors.saves_itself"
    assert finding.message.startswith(
        f"testapp.BlogPost pk={post.pk} is saved again while"
    )
    assert "until RecursionError" in finding.message
    assert finding.chain[0] == f"pre_save testapp.BlogPost pk={post.pk}"
    assert finding.chain[1].startswith("tests.test_detectors.saves_itself (")
    assert finding.chain[2].startswith(f"save() at {HERE}:")
    # The RecursionError is the chain's: told by the recursive_save, not again
    # as a receiver_error.
    assert "receiver_error" not in kinds(recording.findings)


def test_unguarded_post_save_saving_its_instance_is_recursive_not_double() -> None:
    with connected(post_save, saves_itself, sender=BlogPost):
        with signals_panel.record() as recording, pytest.raises(RecursionError):
            BlogPost.objects.create(title="loop")
    assert "double_save" not in kinds(recording.findings)
    assert only(recording.findings, "recursive_save").receiver == (
        "tests.test_detectors.saves_itself"
    )


def count_books(sender: Any, instance: Book, **kwargs: Any) -> None:
    author = instance.author
    author.books_count = author.book_set.count()
    author.save()


def copy_name_to_books(
    sender: Any, instance: Author, created: bool, **kwargs: Any
) -> None:
    for book in instance.book_set.exclude(author_name=instance.name):
        book.author_name = instance.name
        book.save()  # saves Book, whose receiver saves this Author again


def test_a_cross_model_cycle_cut_by_a_guard_is_recursive() -> None:
    author = Author.objects.create(name="Ada")
    with (
        connected(post_save, count_books, sender=Book),
        connected(post_save, copy_name_to_books, sender=Author),
    ):
        with signals_panel.record() as recording:
            Book.objects.create(author=author, title="Notes")
    finding = only(recording.findings, "recursive_save")
    assert finding.message.startswith("testapp.Book pk=")
    assert "through tests.test_detectors.count_books" in finding.message
    assert "double_save" not in kinds(recording.findings)


def test_deleting_the_row_from_its_own_pre_delete_recurses() -> None:
    def delete_again(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        BlogPost.objects.get(pk=instance.pk).delete()

    post = BlogPost.objects.create(title="doomed")
    with connected(pre_delete, delete_again, sender=BlogPost):
        with signals_panel.record() as recording, pytest.raises(RecursionError):
            post.delete()
    finding = only(recording.findings, "recursive_save")
    assert (
        " is deleted again while its own pre_delete is still running" in finding.message
    )


def test_changing_the_same_relation_from_m2m_changed_is_recursive() -> None:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    admin, ada = (
        User.objects.create(username="admin"),
        User.objects.create(username="ada"),
    )

    def admin_likes_too(
        sender: Any, instance: BlogPost, action: str, pk_set: set[int], **kwargs: Any
    ) -> None:
        if action == "post_add" and admin.pk not in pk_set:
            instance.liked.add(admin)

    post = BlogPost.objects.create(title="x")
    with connected(m2m_changed, admin_likes_too, sender=BlogPost.liked.through):
        with signals_panel.record() as recording:
            post.liked.add(ada)
    finding = only(recording.findings, "recursive_save")
    assert "The same testapp.BlogPost_liked relation" in finding.message


# -- must not be flagged -----------------------------------------------------


def test_saving_another_model_or_another_row_is_not_flagged() -> None:
    def first_comment(
        sender: Any, instance: BlogPost, created: bool, **kwargs: Any
    ) -> None:
        if created:
            Comment.objects.create(post=instance, text="first")

    def bump_parent(
        sender: Any, instance: Category, created: bool, **kwargs: Any
    ) -> None:
        if created and instance.parent_id:
            parent = instance.parent
            parent.children_count += 1
            parent.save(update_fields=["children_count"])

    with (
        connected(post_save, first_comment, sender=BlogPost),
        connected(post_save, bump_parent, sender=Category),
    ):
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="a")
            BlogPost.objects.create(title="b")
            root = Category.objects.create(name="root")
            Category.objects.create(name="leaf", parent=root)
    assert recording.findings == []


def test_a_receiver_updating_its_row_with_queryset_update_is_not_flagged() -> None:
    def stamp(sender: Any, instance: BlogPost, created: bool, **kwargs: Any) -> None:
        if created:
            BlogPost.objects.filter(pk=instance.pk).update(body="stamped")

    with connected(post_save, stamp, sender=BlogPost), signals_panel.record() as rec:
        BlogPost.objects.create(title="x")
    assert rec.findings == []


def test_raw_fixture_loads_of_distinct_rows_are_not_flagged() -> None:
    with connected(post_save, stamp_body_after_create, sender=BlogPost):
        with signals_panel.record() as recording:
            call_command("loaddata", "posts", verbosity=0)
    # loaddata sends raw=True and created=True: the receiver saves each row
    # again (that is a double save, truly), but distinct rows are not repeats.
    assert "repeated_save" not in kinds(recording.findings)
    raw = {event.kwargs["raw"] for event in recording.dispatches("post_save")}
    assert "True" in raw


def test_raw_fixture_loads_with_a_raw_aware_receiver_are_clean() -> None:
    def skip_raw(
        sender: Any, instance: BlogPost, created: bool, raw: bool, **kwargs: Any
    ) -> None:
        if created and not raw:
            instance.save()

    with connected(post_save, skip_raw, sender=BlogPost), signals_panel.record() as rec:
        call_command("loaddata", "posts", verbosity=0)
    assert rec.findings == []


def test_bound_methods_of_two_instances_and_factory_closures_are_not_duplicates() -> (
    None
):
    class Counter:
        def on_paid(self, sender: Any, **kwargs: Any) -> None:
            pass

    def make(tag: str) -> Any:
        def on_paid(sender: Any, **kwargs: Any) -> None:
            pass

        return on_paid

    one, two = Counter(), Counter()
    first, second = make("a"), make("b")
    with (
        connected(order_paid, one.on_paid),
        connected(order_paid, two.on_paid),
        connected(order_paid, first),
        connected(order_paid, second),
        signals_panel.record() as recording,
    ):
        order_paid.send(sender=None)
    assert len(recording.events[0].receivers) == 4
    assert recording.findings == []


# -- repeated_save -----------------------------------------------------------


def test_a_row_saved_twice_by_the_caller_is_a_repeated_save_listing_both_sites() -> (
    None
):
    with signals_panel.record() as recording:
        post = BlogPost.objects.create(title="draft")
        post.title = "final"
        post.save()
        BlogPost.objects.create(title="another row")
    finding = only(recording.findings, "repeated_save")
    assert finding.severity == "info"
    assert finding.count == 2
    assert len(finding.sites) == 2
    assert all(site.startswith(f"{HERE}:") for site in finding.sites)
    assert finding.message.startswith(
        f"testapp.BlogPost pk={post.pk} was saved 2 times"
    )


# -- receiver errors ---------------------------------------------------------


def test_an_error_swallowed_by_send_robust_is_a_warning() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("no stock")

    with connected(order_paid, broken), signals_panel.record() as recording:
        order_paid.send_robust(sender=None)
    finding = only(recording.findings, "swallowed_error")
    assert finding.severity == "warning"
    assert "raised ValueError: no stock" in finding.message
    assert "send_robust() swallowed it" in finding.message
    assert finding.where is not None and finding.where.startswith(f"{HERE}:")


def test_an_error_raised_through_send_is_an_error() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("no stock")

    with connected(order_paid, broken), signals_panel.record() as alone:
        with pytest.raises(ValueError):
            order_paid.send(sender=None)
    finding = only(alone.findings, "receiver_error")
    assert finding.severity == "error"
    assert finding.message.endswith("propagated out of send().")
    with (
        connected(order_paid, broken),
        connected(order_paid, noop),
        signals_panel.record() as first_of_two,
    ):
        with pytest.raises(ValueError):
            order_paid.send(sender=None)
    finding = only(first_of_two.findings, "receiver_error")
    assert finding.message.endswith(
        "propagated out of send() and the receivers after it did not run."
    )


# -- duplicate_receiver ------------------------------------------------------


def test_a_function_connected_twice_is_a_duplicate_receiver() -> None:
    from tests.testapp.receivers_twice import count_payment

    with (
        connected(order_paid, count_payment, dispatch_uid="one"),
        connected(order_paid, count_payment, dispatch_uid="two"),
        signals_panel.record() as recording,
    ):
        order_paid.send(sender=None)
    finding = only(recording.findings, "duplicate_receiver")
    assert finding.receiver == "tests.testapp.receivers_twice.count_payment"
    assert finding.message == (
        "tests.testapp.receivers_twice.count_payment ran twice for one order_paid "
        "dispatch: it is connected more than once."
    )
    assert "the same dispatch_uid= makes a repeat replace the first" in finding.advice


def test_a_function_for_every_sender_and_for_one_runs_three_times() -> None:
    from tests.testapp.receivers_twice import count_payment

    with (
        connected(order_paid, count_payment, dispatch_uid="any"),
        connected(order_paid, count_payment, sender=BlogPost),
        connected(order_paid, count_payment, sender=BlogPost, dispatch_uid="b"),
        signals_panel.record() as recording,
    ):
        order_paid.send(sender=BlogPost)
    finding = only(recording.findings, "duplicate_receiver")
    assert " ran 3 times for one order_paid dispatch" in finding.message
    assert "one for every sender (no sender=) beside one" in finding.advice


def test_a_module_imported_under_two_names_is_a_duplicate_receiver() -> None:
    from tests.testapp import receivers_twice

    spec = importlib.util.spec_from_file_location(
        "receivers_twice", receivers_twice.__file__
    )
    assert spec is not None and spec.loader is not None
    second_copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(second_copy)
    with (
        connected(order_paid, receivers_twice.count_payment),
        connected(order_paid, second_copy.count_payment),
        signals_panel.record() as recording,
    ):
        order_paid.send(sender=None)
    finding = only(recording.findings, "duplicate_receiver")
    assert "imported under two names" in finding.message
    assert (
        "receivers_twice.count_payment and tests.testapp.receivers_twice"
        in finding.message
    )


# -- signals_bypassed --------------------------------------------------------


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def test_queryset_update_and_bulk_operations_on_a_model_with_receivers_are_reported() -> (
    None
):
    posts = [BlogPost.objects.create(title=str(n)) for n in range(3)]
    with (
        connected(post_save, noop, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.filter(title="0").update(body="x")
        BlogPost.objects.bulk_create([BlogPost(title="bulk")])
        for post in posts:
            post.body = "y"
        BlogPost.objects.bulk_update(posts, ["body"])
    bypassed = [f for f in recording.findings if f.kind == "signals_bypassed"]
    assert [f.message.split(" at ")[0] for f in bypassed] == [
        "QuerySet.update() of testapp.BlogPost",
        "QuerySet.bulk_create() of testapp.BlogPost",
        "QuerySet.bulk_update() of testapp.BlogPost",
    ]
    assert all("tests.test_detectors.noop did not run" in f.message for f in bypassed)
    # The receiver that did not run, with its file:line.
    noop_line = noop.__code__.co_firstlineno
    assert {(f.receiver, f.where) for f in bypassed} == {
        ("tests.test_detectors.noop", f"{HERE}:{noop_line}")
    }
    assert all(f.sites[0].startswith(f"{HERE}:") for f in bypassed)
    assert "wrote 3 rows" in bypassed[2].message


def test_async_bulk_twins_are_reported_too() -> None:
    BlogPost.objects.create(title="one")

    async def run() -> None:
        await BlogPost.objects.filter(title="one").aupdate(body="x")

    with (
        connected(pre_save, noop, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        async_to_sync(run)()
    finding = only(recording.findings, "signals_bypassed")
    assert finding.message.startswith(
        "QuerySet.update() of testapp.BlogPost at tests/test_detectors.py:"
    )


def test_bulk_operations_on_a_model_without_receivers_are_not_reported() -> None:
    with signals_panel.record() as recording:
        Comment.objects.filter(pk=0).update(text="x")
    assert recording.findings == []


# -- truncated ---------------------------------------------------------------


def test_a_capped_recording_says_how_much_it_did_not_store() -> None:
    with connected(order_paid, noop), signals_panel.record({"MAX_EVENTS": 3}) as rec:
        for _ in range(10):
            order_paid.send(sender=None)
    finding = only(rec.findings, "truncated")
    assert finding.message == (
        "7 dispatches with receivers were counted but not stored (most from "
        "order_paid of None: 7); 10 in all, 0 of them without receivers (never "
        "stored)."
    )
    assert "MAX_EVENTS" in finding.advice


# -- opt-in raising and logging ---------------------------------------------


def test_raise_on_recursion_stops_a_save_chain_naming_it() -> None:
    post = BlogPost.objects.create(title="loop")
    with connected(pre_save, saves_itself, sender=BlogPost):
        with signals_panel.record({"RAISE_ON_RECURSION": 3}):
            with pytest.raises(SignalRecursionError) as raised:
                post.save()
    message = str(raised.value)
    assert message.startswith(
        # Nested in 4 saves of its own row: more than the 3 allowed.
        f"testapp.BlogPost pk={post.pk} is being saved 4 levels deep"
    )
    assert "pre_save → tests.test_detectors.saves_itself → save()" in message
    assert isinstance(raised.value, RecursionError)


def test_raise_on_recursion_lets_a_double_save_through() -> None:
    with connected(post_save, stamp_body_after_create, sender=BlogPost):
        with signals_panel.record({"RAISE_ON_RECURSION": 1}) as recording:
            BlogPost.objects.create(title="ok")
    assert kinds(recording.findings) == ["double_save"]


@override_settings(SIGNALS_PANEL={"LOG_FINDINGS": True})
def test_findings_are_logged_one_line_each_at_the_end_of_a_toolbar_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ValueError("swallowed")

    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO, logger="signals_panel"):
        with (
            connected(order_paid, broken),
            connected(post_save, stamp_body_after_create, sender=BlogPost),
        ):
            assert client.get("/posts/create/").status_code == 500
    records = [r for r in caplog.records if r.name == "signals_panel"]
    assert [(r.levelname, r.getMessage().split(" ")[0]) for r in records] == [
        ("ERROR", "receiver_error"),
        ("WARNING", "double_save"),
    ]
    assert "/posts/create/" in records[0].getMessage()


@override_settings(SIGNALS_PANEL={"LOG_FINDINGS": False})
def test_logging_findings_can_be_turned_off(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="signals_panel"):
        with connected(post_save, stamp_body_after_create, sender=BlogPost):
            client.get("/posts/create/")
    assert [r for r in caplog.records if r.name == "signals_panel"] == []


def test_a_cycle_through_a_custom_signal_names_every_step() -> None:
    def announce(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        order_paid.send(sender=BlogPost, post_id=instance.pk)

    def touch_post(sender: Any, post_id: int, **kwargs: Any) -> None:
        post = BlogPost.objects.get(pk=post_id)
        if not post.body:
            post.body = "paid"
            post.save()

    with (
        connected(post_save, announce, sender=BlogPost),
        connected(order_paid, touch_post),
    ):
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="x")
    finding = only(recording.findings, "recursive_save")
    assert finding.chain[0].startswith("post_save testapp.BlogPost pk=")
    assert "order_paid testapp.BlogPost" in finding.chain


# -- unsaved_change ----------------------------------------------------------


def summarise_body(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    instance.body = f"About {instance.title}"


def retitle_saving_title_only(post: BlogPost, title: str) -> None:
    post.title = title
    post.save(update_fields=["title"])  # the save that leaves body out


def test_a_pre_save_change_that_update_fields_leaves_out_is_unsaved() -> None:
    post = BlogPost.objects.create(title="first")
    with connected(pre_save, summarise_body, sender=BlogPost):
        with signals_panel.record() as recording:
            retitle_saving_title_only(post, "second")
            retitle_saving_title_only(post, "third")
    # What the finding says is what happened: the row keeps the old body.
    assert post.body == "About third"
    assert BlogPost.objects.get(pk=post.pk).body == ""

    finding = only(recording.findings, "unsaved_change")
    assert kinds(recording.findings) == ["unsaved_change", "repeated_save"]
    assert finding.severity == "warning"
    assert finding.receiver == "tests.test_detectors.summarise_body"
    assert finding.where == f"{HERE}:{summarise_body.__code__.co_firstlineno}"
    assert finding.message == (
        "pre_save receiver tests.test_detectors.summarise_body changes "
        "testapp.BlogPost.body, but the save writes only "
        "update_fields=frozenset({'title'}): that change is not saved (2 saves)."
    )
    assert finding.advice.startswith("Add body to update_fields where save() is called")
    save_line = line_containing(retitle_saving_title_only, "# the save that leaves")
    assert finding.sites == [f"{HERE}:{save_line} in retitle_saving_title_only"]
    assert finding.count == 2
    (event, _) = [e for e in recording.events if "unsaved_change" in e.flags]
    assert [call.unsaved for call in event.receivers] == [["body"]]


def test_a_save_whose_update_fields_name_the_change_is_not_flagged() -> None:
    post = BlogPost.objects.create(title="first")
    with connected(pre_save, summarise_body, sender=BlogPost):
        with signals_panel.record() as recording:
            post.save(update_fields=["title", "body"])
            post.save()  # every field written
    assert "unsaved_change" not in kinds(recording.findings)
    assert BlogPost.objects.get(pk=post.pk).body == "About first"


def test_an_equal_value_a_loaded_deferred_field_or_an_attname_is_no_unsaved_change(
    user: Any,
) -> None:
    def busy(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        instance.title = "".join(["sa", "me"])  # equal, another str object
        instance.body  # noqa: B018  (loads the deferred field: not a change)
        instance.author = user  # author_id, which update_fields names

    BlogPost.objects.create(title="same", body="text")
    post = BlogPost.objects.defer("body").get(title="same")
    with connected(pre_save, busy, sender=BlogPost):
        with signals_panel.record() as recording:
            post.save(update_fields=["author_id"])
    assert "unsaved_change" not in kinds(recording.findings)
    assert BlogPost.objects.get(pk=post.pk).author == user


def test_the_timeline_shows_the_fields_a_receiver_left_unsaved() -> None:
    from bs4 import BeautifulSoup

    from signals_panel.panel import build_context

    post = BlogPost.objects.create(title="first")
    with connected(pre_save, summarise_body, sender=BlogPost):
        with signals_panel.record() as recording:
            retitle_saving_title_only(post, "second")
    html = BeautifulSoup(build_context(recording.to_dict())["rows_html"], "html.parser")
    (note,) = html.select(".djsp-unsaved-change")
    assert note.get_text(" ", strip=True) == (
        "Changed, not written by this save (update_fields): body"
    )


def test_a_pre_save_sent_by_hand_with_no_model_instance_is_left_alone() -> None:
    class Plain:
        title = "x"

    def change(sender: Any, instance: Any, **kwargs: Any) -> None:
        instance.title = "y"

    with connected(pre_save, change, sender=Plain):
        with signals_panel.record() as recording:
            pre_save.send(sender=Plain, instance=Plain(), update_fields={"title"})
    assert recording.findings == []
    assert recording.summary["internal_errors"] == 0
    (event,) = recording.events
    assert event.receivers[0].unsaved == []


# -- raw_save_queries --------------------------------------------------------


def welcome_comment(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        Comment.objects.create(post=instance, text="Welcome!")


def test_a_receiver_writing_during_loaddata_is_a_raw_save_warning() -> None:
    with connected(post_save, welcome_comment, sender=BlogPost):
        with signals_panel.record() as recording:
            call_command("loaddata", "posts", verbosity=0)
    # It did write: one comment per fixture row the fixture knows nothing of.
    assert Comment.objects.filter(post_id__in=[101, 102]).count() == 2

    finding = only(recording.findings, "raw_save_queries")
    assert finding.severity == "warning"
    assert finding.receiver == "tests.test_detectors.welcome_comment"
    assert finding.where == f"{HERE}:{welcome_comment.__code__.co_firstlineno}"
    assert finding.message.startswith(
        "post_save receiver tests.test_detectors.welcome_comment ran 2 queries "
        "while loaddata saved 2 fixture rows of testapp.BlogPost (raw=True): it "
        'wrote to the database (INSERT INTO "testapp_comment"'
    )
    assert "collide with the fixture's own (IntegrityError)" in finding.message
    assert finding.advice.startswith("loaddata passes raw=True")
    assert finding.count == 2


def test_a_receiver_reading_during_loaddata_is_a_raw_save_note() -> None:
    def count_posts(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        BlogPost.objects.count()

    with connected(post_save, count_posts, sender=BlogPost):
        with signals_panel.record() as recording:
            call_command("loaddata", "posts", verbosity=0)
    finding = only(recording.findings, "raw_save_queries")
    assert finding.severity == "info"
    assert finding.message.endswith(
        "(raw=True): the rows it reads may not be loaded yet."
    )


def test_the_same_receiver_outside_loaddata_is_no_raw_save_finding() -> None:
    with connected(post_save, welcome_comment, sender=BlogPost):
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="by hand")
    assert recording.findings == []
