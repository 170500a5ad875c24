import itertools

from django.contrib.auth import get_user_model
from django.shortcuts import render

from .models import BlogPost, Comment

User = get_user_model()
_counter = itertools.count(1)

SCENARIOS = [
    (
        "create_user",
        "Create a user",
        "post_save with created=True, then an update with created=False.",
    ),
    (
        "publish_post",
        "Publish a post",
        "pre_save fills the body (pk None), post_save sends the custom post_published signal: nested.",
    ),
    (
        "like",
        "Like, unlike and clear",
        "m2m_changed for pre/post add, remove and clear, with pk_set.",
    ),
    (
        "delete_post",
        "Delete a post with comments",
        "pre_delete/post_delete for the post and each cascaded comment.",
    ),
]


def index(request):
    return render(request, "blog/index.html", {"scenarios": SCENARIOS})


def _done(request, title, lines):
    return render(request, "blog/done.html", {"title": title, "lines": lines})


def create_user(request):
    user = User.objects.create(username=f"user{next(_counter)}-{User.objects.count()}")
    user.first_name = "Ada"
    user.save()
    return _done(request, "Created and updated a user", [f"user pk={user.pk}"])


def publish_post(request):
    post = BlogPost.objects.create(title="Signals, explained", published=True)
    return _done(request, "Published a post", [f"post pk={post.pk}"])


def like_and_unlike(request):
    post = BlogPost.objects.order_by("pk").first() or BlogPost.objects.create(
        title="Liked"
    )
    users = list(User.objects.order_by("pk")[:3])
    post.liked.add(*users)
    post.liked.remove(users[0])
    users[1].liked_posts.remove(post)
    post.liked.clear()
    return _done(request, "Liked, unliked, cleared", [f"post pk={post.pk}"])


def delete_post(request):
    post = BlogPost.objects.create(title="Short-lived")
    Comment.objects.create(post=post, text="first")
    Comment.objects.create(post=post, text="second")
    post.delete()
    return _done(request, "Deleted a post and its comments", [])
