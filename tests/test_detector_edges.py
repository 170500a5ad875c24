"""Detectors on patterns of real projects: what Django does on its own is
not the user's hazard, and each finding points at what to change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import Signal

import signals_panel
from signals_panel.describe import describe_target
from signals_panel.detectors import find_hazards
from tests.testapp.models import Author, BlogPost, Book, Category, Comment
from tests.toolbar import connected

pytestmark = pytest.mark.django_db


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def kinds(recording: Any) -> list[str]:
    return [finding.kind for finding in recording.findings]


def test_a_session_saved_twice_by_djangos_own_code_is_not_flagged() -> None:
    # A login cycles the session key (the row is created), then the session
    # middleware saves the session again at the end of the response.
    with connected(post_save, noop), signals_panel.record() as recording:
        session = SessionStore()
        session["user"] = 1
        session.save()
        session["seen"] = True
        session.save()
    assert len(recording.to_dict()["writes"]) == 2
    assert kinds(recording) == []


def saves_again(sender: Any, instance: BlogPost, created: bool, **kwargs: Any) -> None:
    if created:
        instance.save()


def test_the_same_object_written_to_another_database_is_another_row() -> None:
    author = get_user_model().objects.create(username="ada")
    with (
        connected(post_save, saves_again, sender=BlogPost),
        signals_panel.record() as r,
    ):
        BlogPost.objects.create(title="t", author=author)
    stats = r.to_dict()
    assert [f.kind for f in find_hazards(stats)] == ["double_save"]
    # The nested save went to a replica (``instance.save(using="other")``).
    for event in stats["events"][1:]:
        event["target"]["db"] = "other"
    assert find_hazards(stats) == []
    post = BlogPost.objects.get()
    assert describe_target(post, "other")["db"] == "other"  # type: ignore[index]


def propagates(sender: Any, instance: Book, **kwargs: Any) -> None:
    instance.author.save()


def breaks(sender: Any, **kwargs: Any) -> None:
    raise ValueError("author receiver broke")


def test_an_error_passed_up_through_a_receiver_is_reported_once() -> None:
    author = Author.objects.create(name="a")
    with (
        connected(post_save, propagates, sender=Book),
        connected(post_save, breaks, sender=Author),
        signals_panel.record() as recording,
        pytest.raises(ValueError),
    ):
        Book.objects.create(author=author, title="b")
    (finding,) = recording.findings
    assert finding.kind == "receiver_error"
    assert finding.receiver == "tests.test_detector_edges.breaks"


def tag_on_create(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        instance.liked.add(get_user_model().objects.get(username="ada"))


def save_on_like(sender: Any, instance: BlogPost, action: str, **kwargs: Any) -> None:
    if action == "post_add":
        instance.save()


def test_a_chain_says_what_each_step_did() -> None:
    author = get_user_model().objects.create(username="ada")
    with (
        connected(post_save, tag_on_create, sender=BlogPost),
        connected(m2m_changed, save_on_like, sender=BlogPost.liked.through),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="t", author=author)
    finding = next(f for f in recording.findings if f.chain)
    steps = [step.split(" at ")[0] for step in finding.chain]
    assert "change" in steps and "save()" in steps
    assert steps.index("change") < steps.index("save()")


def test_an_m2m_add_with_a_receiver_for_every_model_bypasses_nothing() -> None:
    author = get_user_model().objects.create(username="ada")
    post = BlogPost.objects.create(title="t", author=author)
    with connected(post_save, noop), signals_panel.record() as recording:
        post.liked.add(author)
    assert kinds(recording) == []


def updates_other_books(sender: Any, instance: Author, **kwargs: Any) -> None:
    instance.book_set.update(author_name=instance.name)


def saves_author(sender: Any, instance: Book, **kwargs: Any) -> None:
    instance.author.save()


def count_book(sender: Any, **kwargs: Any) -> None:
    pass


def test_an_update_from_another_models_receiver_is_a_bypass_even_in_a_save() -> None:
    author = Author.objects.create(name="a")
    Book.objects.create(author=author, title="old")
    with (
        connected(post_save, saves_author, sender=Book),
        connected(post_save, updates_other_books, sender=Author),
        connected(post_save, count_book, sender=Book),
        signals_panel.record() as recording,
    ):
        Book.objects.create(author=author, title="new")
    assert "signals_bypassed" in kinds(recording)


def creates_children(sender: Any, instance: Category, created: bool, **kw: Any) -> None:
    if created and instance.parent is None:
        Category.objects.bulk_create([Category(name="c", parent=instance)])


def test_a_bulk_create_from_a_receiver_of_its_own_model_is_a_bypass() -> None:
    with (
        connected(post_save, creates_children, sender=Category),
        signals_panel.record() as recording,
    ):
        Category.objects.create(name="root")
    assert kinds(recording) == ["signals_bypassed"]


def repeated(recording: Any) -> list[str]:
    return [f.message for f in recording.findings if f.kind == "repeated_save"]


def test_a_parent_row_saved_directly_and_through_its_child_is_one_row() -> None:
    from tests.testapp.models import Place, Restaurant

    restaurant = Restaurant.objects.create(name="Chez", seats=4)
    with connected(post_save, noop), signals_panel.record() as recording:
        place = Place.objects.get(pk=restaurant.pk)
        place.name = "Chez Ada"
        place.save()
        restaurant.seats = 6
        restaurant.save()
    (message,) = repeated(recording)
    assert message.startswith(f"testapp.Place pk={restaurant.pk} was saved 2 times")


def test_a_child_saved_twice_is_one_finding_not_one_per_table() -> None:
    from tests.testapp.models import Restaurant

    with connected(post_save, noop), signals_panel.record() as recording:
        restaurant = Restaurant.objects.create(name="Chez", seats=4)
        restaurant.save()
    (message,) = repeated(recording)
    assert message.startswith(f"testapp.Restaurant pk={restaurant.pk} was saved 2")
    rows = {(w["model"], w["pk"]) for w in recording.to_dict()["writes"]}
    assert rows == {
        ("testapp.Restaurant", str(restaurant.pk)),
        ("testapp.Place", str(restaurant.pk)),
    }


def loads_comment_count(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    if instance.pk is not None:
        instance.comment_total = Comment.objects.filter(post=instance).count()


def test_a_post_init_receiver_that_queries_is_flagged_per_instance() -> None:
    from django.db.models.signals import post_init

    BlogPost.objects.bulk_create([BlogPost(title=str(n)) for n in range(5)])
    with (
        connected(post_init, loads_comment_count, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        list(BlogPost.objects.all())
    (finding,) = [f for f in recording.findings if f.kind == "query_per_instance"]
    assert finding.severity == "warning"
    assert finding.receiver == f"{__name__}.loads_comment_count"
    assert finding.where is not None and finding.where.startswith(
        "tests/test_detector_edges.py:"
    )
    assert finding.message.startswith(
        f"post_init receiver {__name__}.loads_comment_count ran 5 queries for 5 "
        'instances of testapp.BlogPost (such as SELECT COUNT(*) AS "__count" FROM '
        '"testapp_comment"'
    )
    assert "past the caps" not in finding.message
    assert "select_related()/prefetch_related()" in finding.advice
    assert len(finding.events) == 5


def test_instances_past_the_cap_are_mentioned_not_counted() -> None:
    from django.db.models.signals import post_init

    BlogPost.objects.bulk_create([BlogPost(title=str(n)) for n in range(8)])
    with (
        connected(post_init, loads_comment_count, sender=BlogPost),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 3}) as recording,
    ):
        list(BlogPost.objects.all())
    (finding,) = [f for f in recording.findings if f.kind == "query_per_instance"]
    assert "ran 3 queries for 3 instances" in finding.message
    assert finding.message.endswith(
        "It also ran for 5 more instances built past the caps, not counted here."
    )


def test_one_instance_or_a_receiver_without_queries_is_not_flagged() -> None:
    from django.db.models.signals import post_init

    post = BlogPost.objects.create(title="one")
    with (
        connected(post_init, loads_comment_count, sender=BlogPost),
        connected(post_init, noop, sender=Comment),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.get(pk=post.pk)
        Comment.objects.bulk_create([Comment(post=post) for _ in range(3)])
        list(Comment.objects.all())
    assert "query_per_instance" not in kinds(recording)


def test_a_save_with_update_fields_writes_only_the_tables_holding_them() -> None:
    from tests.testapp.models import Place, Restaurant

    restaurant = Restaurant.objects.create(name="Chez", seats=1)
    with connected(post_save, noop), signals_panel.record() as recording:
        place = Place.objects.get(pk=restaurant.pk)
        place.save()
        restaurant.seats = 5
        restaurant.save(update_fields=["seats"])  # the place row is not written
        restaurant.save(update_fields=["name"])  # the restaurant row is not
    (message,) = repeated(recording)
    assert message.startswith(f"testapp.Place pk={restaurant.pk} was saved 2 times")


@pytest.mark.parametrize("config", [{}, {"MAX_EVENTS_PER_SENDER": 2}])
@pytest.mark.parametrize("listened", [True, False])
def test_rows_written_twice_from_the_same_lines_are_each_reported(
    config: dict[str, Any], listened: bool
) -> None:
    from tests.testapp.models import Folder

    receivers = connected(post_save, noop, sender=Folder if listened else BlogPost)
    with receivers, signals_panel.record(config) as recording:
        for n in range(4):
            folder = Folder.objects.create(name=str(n))
            folder.save()
    assert len(repeated(recording)) == 4


def bypassed(recording: Any) -> list[Any]:
    return [f for f in recording.findings if f.kind == "signals_bypassed"]


def test_a_delete_setting_foreign_keys_to_null_names_on_delete() -> None:
    user = get_user_model().objects.create(username="ada")
    BlogPost.objects.create(title="a", author=user)
    with (
        connected(post_save, noop, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        user.delete()
    (finding,) = bypassed(recording)
    assert finding.message.startswith(
        "A delete at tests/test_detector_edges.py:"
    ) and "set the foreign key of 1 row of testapp.BlogPost (on_delete=SET_NULL" in (
        finding.message
    )
    assert finding.message.endswith(f"so {__name__}.noop did not run.")
    assert "pre_delete or post_delete receiver" in finding.advice


def test_a_related_managers_bulk_add_advises_bulk_false() -> None:
    first, second = BlogPost.objects.create(title="a"), BlogPost.objects.create()
    comment = Comment.objects.create(post=first, text="t")
    with (
        connected(post_save, noop, sender=Comment),
        signals_panel.record() as recording,
    ):
        second.comments.add(comment)
        second.comments.add(comment, bulk=False)  # saved: its receivers run
    (finding,) = bypassed(recording)
    assert finding.message.startswith("A related manager's add(), remove()")
    assert "wrote 1 row of testapp.Comment" in finding.message
    assert finding.advice.startswith("Pass bulk=False")


def test_bulk_writes_of_no_rows_and_ignored_receivers_are_not_bypasses() -> None:
    BlogPost.objects.create(title="a")
    ignore = {"IGNORE_RECEIVERS": ["debug_toolbar.", f"{__name__}.noop"]}
    with connected(post_save, noop, sender=BlogPost):
        with signals_panel.record() as recording:
            BlogPost.objects.filter(title="nothing").update(body="x")
            BlogPost.objects.bulk_update([], ["body"])
            BlogPost.objects.bulk_create([])
        with signals_panel.record(ignore) as ignoring:
            BlogPost.objects.update(body="x")
    assert bypassed(recording) == []
    assert bypassed(ignoring) == []


def creates_first_comment(
    sender: Any, instance: BlogPost, created: bool, **kwargs: Any
) -> None:
    if created:
        Comment.objects.create(post=instance, text="first")


def restamps(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        instance.save()


def retitles(sender: Any, instance: BlogPost, created: bool, **kwargs: Any) -> None:
    if created:
        instance.title += "!"
        instance.save(update_fields=["title"])


def retexts(sender: Any, instance: Comment, created: bool, **kwargs: Any) -> None:
    if created:
        instance.text += "!"
        instance.save()


def test_a_double_save_inside_another_rows_is_a_finding_of_its_own() -> None:
    with (
        connected(post_save, creates_first_comment, sender=BlogPost),
        connected(post_save, restamps, sender=BlogPost),
        connected(post_save, retexts, sender=Comment),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="x")
    found = sorted((f.kind, f.receiver, f.message) for f in recording.findings)
    assert [(kind, receiver) for kind, receiver, _ in found] == [
        ("double_save", f"{__name__}.restamps"),
        ("double_save", f"{__name__}.retexts"),
    ]
    assert "testapp.BlogPost pk=" in found[0][2]
    assert "testapp.Comment pk=" in found[1][2]


def test_each_receiver_that_saves_again_is_named_and_writes_counted() -> None:
    with (
        connected(post_save, restamps, sender=BlogPost),
        connected(post_save, retitles, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="x")
    found = {f.receiver: f for f in recording.findings}
    assert set(found) == {f"{__name__}.restamps", f"{__name__}.retitles"}
    assert all(f.kind == "double_save" for f in found.values())
    # update_fields already passed: not advised again.
    assert "at the very least pass update_fields" not in (
        found[f"{__name__}.retitles"].advice
    )
    assert (
        "at the very least pass update_fields" in found[f"{__name__}.restamps"].advice
    )


def saves_twice(sender: Any, instance: BlogPost, created: bool, **kwargs: Any) -> None:
    if created:
        instance.save()
        instance.save()


def test_a_receiver_saving_twice_says_how_many_writes() -> None:
    with (
        connected(post_save, saves_twice, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="x")
    (finding,) = recording.findings
    assert finding.message.endswith("so the row is written 3 times.")


inner_signal = Signal()
outer_signal = Signal()


def fails_inside(sender: Any, **kwargs: Any) -> None:
    raise ValueError("boom")


def relays(sender: Any, **kwargs: Any) -> None:
    inner_signal.send(sender=None)


def test_an_error_swallowed_by_an_outer_send_robust_is_swallowed() -> None:
    with (
        connected(inner_signal, fails_inside),
        connected(outer_signal, relays),
        signals_panel.record() as recording,
    ):
        (response,) = outer_signal.send_robust(sender=None)
    assert isinstance(response[1], ValueError)
    (finding,) = recording.findings
    assert (finding.kind, finding.receiver) == (
        "swallowed_error",
        f"{__name__}.fails_inside",
    )
    assert finding.message == (
        f"inner_signal receiver {__name__}.fails_inside raised ValueError: boom, "
        "and send_robust() of outer_signal (which the receiver's dispatch ran in) "
        "swallowed it: Django only logged it."
    )


def test_double_saves_past_the_cap_are_not_repeated_saves() -> None:
    with (
        connected(post_save, restamps, sender=BlogPost),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 10}) as recording,
    ):
        for n in range(8):
            BlogPost.objects.create(title=str(n))
    assert kinds(recording) == ["double_save", "truncated"]
    finding = recording.findings[0]
    assert "(5 rows in this recording)" in finding.message
    assert finding.message.endswith(
        "Later post_save of testapp.BlogPost dispatches were counted, not stored: "
        "there may be more rows."
    )


def saves_the_place_row(
    sender: Any, instance: Any, created: bool, **kwargs: Any
) -> None:
    from tests.testapp.models import Place

    if created:
        Place.objects.get(pk=instance.pk).save()


def test_a_multi_table_childs_receiver_saving_its_parent_row_is_a_double_save() -> None:
    from tests.testapp.models import Restaurant

    with (
        connected(post_save, saves_the_place_row, sender=Restaurant),
        connected(post_save, noop),
        signals_panel.record() as recording,
    ):
        restaurant = Restaurant.objects.create(name="Chez", seats=3)
    (finding,) = recording.findings
    assert finding.kind == "double_save"
    assert finding.message.startswith(
        f"post_save receiver {__name__}.saves_the_place_row saves the testapp.Place "
        f"pk={restaurant.pk} row of testapp.Restaurant pk={restaurant.pk} again at "
    )


def saves_itself(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
    instance.save()


@pytest.mark.parametrize("limit", [None, 3])
def test_a_chain_stopped_by_an_error_is_one_finding(limit: int | None) -> None:
    from django.db.models.signals import pre_save

    with (
        connected(pre_save, saves_itself, sender=BlogPost),
        signals_panel.record({"RAISE_ON_RECURSION": limit}) as recording,
    ):
        with pytest.raises(RecursionError):
            BlogPost.objects.create(title="deep")
    # The receivers' errors are the chain's: no receiver_error beside it.
    assert "receiver_error" not in kinds(recording)
    (finding,) = [f for f in recording.findings if f.kind == "recursive_save"]
    if limit:
        assert finding.message.startswith(
            "An unsaved testapp.BlogPost is saved again while its own pre_save is "
            "still running, 3 levels deep, until SIGNALS_PANEL['RAISE_ON_RECURSION'] "
            "stopped the next save, through "
        )
    else:
        assert "until RecursionError" in finding.message


def test_rows_of_two_models_with_the_same_key_are_two_findings() -> None:
    from tests.testapp.models import Folder

    def write_twice(model: Any, **fields: Any) -> Any:
        row = model.objects.create(**fields)
        row.save()
        return row

    with signals_panel.record() as recording:
        write_twice(Folder, pk=7, name="f")  # the same key, from the same lines
        write_twice(Author, pk=7, name="a")
    messages = repeated(recording)
    assert {m.split(" pk=")[0] for m in messages} == {
        "testapp.Folder",
        "testapp.Author",
    }


def test_one_resave_with_pre_and_post_save_receivers_is_written_twice() -> None:
    from django.db.models.signals import pre_save

    with (
        connected(post_save, restamps, sender=BlogPost),
        connected(pre_save, noop),
        connected(post_save, noop),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="x")
    (finding,) = recording.findings
    assert finding.message.endswith("so the row is written twice.")


def test_a_child_saved_with_update_fields_of_its_own_table_is_not_its_parents_row() -> (
    None
):
    from tests.testapp.models import Restaurant

    def saves_place_after_update(
        sender: Any, instance: Any, update_fields: Any, **kwargs: Any
    ) -> None:
        if update_fields:
            saves_the_place_row(sender, instance, created=True)

    restaurant = Restaurant.objects.create(name="Chez", seats=1)
    with (
        connected(post_save, saves_place_after_update, sender=Restaurant),
        signals_panel.record() as recording,
    ):
        restaurant.seats = 2
        restaurant.save(update_fields=["seats"])  # the place row is not written
    assert "double_save" not in kinds(recording)


def test_truncated_does_not_call_listed_silent_dispatches_never_stored() -> None:
    config = {"LIST_SILENT_DISPATCHES": True, "MAX_EVENTS_PER_SENDER": 1}
    with connected(inner_signal, noop), signals_panel.record(config) as recording:
        inner_signal.send(sender=None)
        inner_signal.send(sender=None)
        outer_signal.send(sender=None)
    (finding,) = recording.findings
    assert finding.message.endswith("1 of them without receivers.")


def test_a_fixture_load_of_a_multi_table_child_writes_its_own_table_only() -> None:
    from django.core import serializers

    data = (
        '[{"model": "testapp.place", "pk": 41, "fields": {"name": "p"}},'
        ' {"model": "testapp.restaurant", "pk": 41, "fields": {"seats": 2}}]'
    )
    with connected(post_save, noop), signals_panel.record() as recording:
        for loaded in serializers.deserialize("json", data):
            loaded.save()  # raw=True: Django skips the parent tables
    assert kinds(recording) == []


def builds_an_author(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is not None:
        Author(pk=instance.author_id, name="built")  # its receiver queries


def author_queries(sender: Any, instance: Any, **kwargs: Any) -> None:
    Book.objects.exists()


def queries_for_new_posts(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        Comment.objects.exists()


def test_query_per_instance_names_only_the_receiver_that_queried() -> None:
    from django.db.models.signals import post_init

    author = Author.objects.create(name="a")
    Book.objects.bulk_create([Book(author=author, title=str(n)) for n in range(3)])
    BlogPost.objects.bulk_create([BlogPost(title="p") for _ in range(3)])
    with (
        connected(post_init, builds_an_author, sender=Book),
        connected(post_init, author_queries, sender=Author),
        connected(post_init, queries_for_new_posts, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        list(Book.objects.all())
        BlogPost(title="new")
        BlogPost(title="newer")  # built in code: no queryset row pays
        list(BlogPost.objects.all())
    found = [f.receiver for f in recording.findings if f.kind == "query_per_instance"]
    assert found == [f"{__name__}.author_queries"]
