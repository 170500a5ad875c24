"""One view per scenario. Each does one thing and says what the Signal timeline
panel should show for it."""

import itertools
import json
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from .models import (
    Article,
    Author,
    BlogPost,
    Book,
    Comment,
    Draft,
    ListedPost,
    Order,
    Subscriber,
)
from .signals import order_paid, post_published

User = get_user_model()
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    explanation: str
    expect: str


SCENARIOS = [
    Scenario(
        "create_user",
        "Create a user, update another",
        "User.objects.create(), then ada.save() on an existing user.",
        "post_save with created=True (a Profile created inside it, nested), then post_save with created=False.",
    ),
    Scenario(
        "publish_post",
        "Publish a post",
        "A pre_save receiver fills the body; a post_save receiver sends the custom post_published signal.",
        "pre_save with the instance unsaved (pk None), post_save, and post_published nested under announce_post.",
    ),
    Scenario(
        "double_save",
        "Subscribe (the classic double save)",
        "A post_save receiver guarded by created sets a flag and calls save() again.",
        "A double_save warning naming welcome_subscriber and the line of its save().",
    ),
    Scenario(
        "recursion",
        "Save a draft (pre_save that saves)",
        "A pre_save receiver calls instance.save(): the request dies with RecursionError.",
        "Django's error page with the toolbar; a recursive_save error with the chain and the culprit receiver.",
    ),
    Scenario(
        "cycle",
        "Add a book (a cycle across two models)",
        "Book's post_save saves its Author; Author's post_save saves its stale books; a guard stops it.",
        "A recursive_save error: Book → count_books → Author → copy_author_name → Book.",
    ),
    Scenario(
        "likes",
        "Like, unlike and clear, from both sides",
        "post.liked.add/remove/clear, then user.liked_posts.add/remove/clear.",
        "m2m_changed for pre/post add, remove and clear, with pk_set, reverse and "
        "model; in the Receivers tab, notify_author_of_like flagged: connected "
        "with sender=BlogPost, it never runs.",
    ),
    Scenario(
        "delete_post",
        "Delete a post with comments",
        "post.delete() cascades to its comments.",
        "pre_delete for the post, post_delete for each comment (pre_delete of comments counted, nobody listens).",
    ),
    Scenario(
        "bulk",
        "Bulk update and bulk create",
        "QuerySet.update() and bulk_create() on BlogPost, which has save receivers.",
        "Two signals_bypassed notes naming the receivers that did not run; no pre_save/post_save.",
    ),
    Scenario(
        "robust",
        "Pay an order (send_robust with a failing receiver)",
        "order_paid.send_robust(): send_receipt raises, update_stock and an async receiver still run.",
        "A swallowed_error warning for send_receipt; the async receiver marked async.",
    ),
    Scenario(
        "custom",
        "Send a custom signal",
        "post_published, connected with @receiver and with connect().",
        "One dispatch of blog.signals.post_published with its two receivers.",
    ),
    Scenario(
        "many_rows",
        "Load 2,000 comments",
        "A post_init receiver runs for every loaded row; then a custom signal is sent.",
        "post_init counted 2,000 times, 100 stored and a truncated note; post_published still stored after the flood.",
    ),
    Scenario(
        "post_list",
        "List posts with their like counts",
        "A post_init receiver counts each post's likes while the list loads.",
        "A query_per_instance warning naming load_like_total, with the COUNT query of its own for each post.",
    ),
    Scenario(
        "retitle",
        "Retitle an article with update_fields",
        'A pre_save receiver sets the slug from the title; the view saves with update_fields=["title"].',
        "An unsaved_change warning naming set_slug: the new slug is set on the instance, not written to the row.",
    ),
    Scenario(
        "async_view",
        "An async view",
        "await BlogPost.objects.acreate() and await order_paid.asend() with an async receiver.",
        "post_save sent from the async view's line, order_paid via asend with the async receiver.",
    ),
]
SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "blog/index.html", {"scenarios": SCENARIOS})


def _done(request: HttpRequest, name: str, lines: list[str]) -> HttpResponse:
    return render(
        request, "blog/done.html", {"scenario": SCENARIOS_BY_NAME[name], "lines": lines}
    )


@require_POST
def create_user(request: HttpRequest) -> HttpResponse:
    user = User.objects.create(
        username=f"reader-{next(_numbers)}-{User.objects.count()}"
    )
    ada = User.objects.get(username="ada")
    ada.first_name = "Ada"
    ada.save()
    return _done(request, "create_user", [f"Created {user.username}, updated ada."])


@require_POST
def publish_post(request: HttpRequest) -> HttpResponse:
    post = BlogPost.objects.create(title="Signals, explained", published=True)
    return _done(request, "publish_post", [f"Published post {post.pk}."])


@require_POST
def retitle(request: HttpRequest) -> HttpResponse:
    article = Article.objects.order_by("pk").first()  # seeded
    article.title = f"Signals, revision {next(_numbers)}"
    article.save(update_fields=["title"])  # set_slug's new slug is not written
    saved = Article.objects.get(pk=article.pk).slug
    return _done(
        request,
        "retitle",
        [f"In memory the slug is {article.slug!r}; in the database, {saved!r}."],
    )


@require_POST
def double_save(request: HttpRequest) -> HttpResponse:
    subscriber = Subscriber.objects.create(email=f"reader{next(_numbers)}@example.com")
    return _done(request, "double_save", [f"Subscribed {subscriber.email}."])


@require_POST
def recursion(request: HttpRequest) -> HttpResponse:
    draft = Draft.objects.create(title="Never saved")  # raises RecursionError
    return _done(request, "recursion", [f"Saved draft {draft.pk}."])


@require_POST
def cycle(request: HttpRequest) -> HttpResponse:
    author = Author.objects.create(name=f"Author {next(_numbers)}")
    book = Book.objects.create(author=author, title="Notes on signals")
    return _done(request, "cycle", [f"Added book {book.pk} to {author.name}."])


@require_POST
def likes(request: HttpRequest) -> HttpResponse:
    post = BlogPost.objects.order_by("pk").first() or BlogPost.objects.create(
        title="Liked"
    )
    ada, grace, linus = User.objects.order_by("pk")[:3]
    post.liked.add(ada, grace, linus)
    post.liked.remove(ada)
    post.liked.clear()
    ada.liked_posts.add(post)
    ada.liked_posts.remove(post)
    ada.liked_posts.clear()
    return _done(request, "likes", [f"Liked, unliked and cleared post {post.pk}."])


@require_POST
def delete_post(request: HttpRequest) -> HttpResponse:
    post = BlogPost.objects.create(title="Short-lived")
    Comment.objects.bulk_create(
        [Comment(post=post, text=t) for t in ("first", "second")]
    )
    post.delete()
    return _done(request, "delete_post", ["Deleted a post and its two comments."])


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    updated = BlogPost.objects.filter(published=False).update(body="(bulk edited)")
    created = BlogPost.objects.bulk_create(
        [BlogPost(title=f"Bulk post {n}") for n in range(3)]
    )
    return _done(request, "bulk", [f"Updated {updated} posts, created {len(created)}."])


@require_POST
def robust(request: HttpRequest) -> HttpResponse:
    order = Order.objects.create(number=f"A-{next(_numbers)}", total=Decimal("12.50"))
    responses = order_paid.send_robust(sender=Order, order_id=order.pk)
    failed = [
        r.__name__ for r, response in responses if isinstance(response, Exception)
    ]
    return _done(
        request, "robust", [f"Order {order.number} paid; failed receivers: {failed}."]
    )


@require_POST
def custom(request: HttpRequest) -> HttpResponse:
    post_published.send(sender=BlogPost, post_id=None)
    return _done(request, "custom", ["Sent post_published."])


@require_POST
def many_rows(request: HttpRequest) -> HttpResponse:
    comments = list(Comment.objects.all()[:2000])
    post_published.send(sender=BlogPost, post_id=None)
    return _done(request, "many_rows", [f"Loaded {len(comments)} comments."])


@require_POST
def post_list(request: HttpRequest) -> HttpResponse:
    posts = list(ListedPost.objects.order_by("pk")[:30])
    total = sum(post.like_total for post in posts)
    return _done(
        request, "post_list", [f"Listed {len(posts)} posts with {total} likes."]
    )


@require_POST
async def async_view(request: HttpRequest) -> HttpResponse:
    post = await BlogPost.objects.acreate(title="Written asynchronously")
    await order_paid.asend(sender=None, order_id=post.pk)
    return await sync_to_async(_done)(
        request, "async_view", [f"Created post {post.pk}."]
    )


@require_POST
def api_like(request: HttpRequest) -> JsonResponse:
    """The target of the index page's fetch() button (see the History panel)."""
    data = json.loads(request.body or "{}")
    post = BlogPost.objects.order_by("pk").first() or BlogPost.objects.create(
        title="Liked"
    )
    user = User.objects.get(username=data.get("username", "ada"))
    post.liked.add(user)
    return JsonResponse({"post": post.pk, "likes": post.liked.count()})
