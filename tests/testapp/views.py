from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from tests.testapp.models import BlogPost
from tests.testapp.signals import order_paid, probe

PAGE = "<html><head><title>t</title></head><body><p>{}</p></body></html>"


def create_post(request: HttpRequest) -> HttpResponse:
    post = BlogPost.objects.create(title=request.GET.get("title", "hello"))
    order_paid.send(sender=BlogPost, post_id=post.pk, note=request.GET.get("note", ""))
    return HttpResponse(PAGE.format(post.pk))


def list_posts(request: HttpRequest) -> HttpResponse:
    titles = [post.title for post in BlogPost.objects.all()]
    return HttpResponse(PAGE.format(len(titles)))


def resave_post(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(BlogPost, pk=pk)
    post.save()
    return HttpResponse(PAGE.format(post.pk))


def rendered(request: HttpRequest) -> HttpResponse:
    from django.template import engines

    body = engines["django"].from_string("{{ n }} rendered").render({"n": 1})
    return HttpResponse(PAGE.format(body))


def pay(request: HttpRequest) -> HttpResponse:
    order_paid.send(sender=None, note=request.GET.get("note", ""))
    return HttpResponse(PAGE.format("paid"))


def fails(request: HttpRequest) -> HttpResponse:
    BlogPost.objects.create(title="before the crash")
    raise RuntimeError("view crashed")


async def create_post_async(request: HttpRequest) -> HttpResponse:
    post = await BlogPost.objects.acreate(title=request.GET.get("title", "async"))
    await order_paid.asend(sender=BlogPost, post_id=post.pk)
    return HttpResponse(PAGE.format(post.pk))


def like_post(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(BlogPost, pk=pk)
    post.liked.add(request.GET["user"])
    return HttpResponse(PAGE.format(post.pk))


async def probe_async(request: HttpRequest) -> HttpResponse:
    await probe.asend(sender=None, amount=request.GET.get("amount", "1"))
    return HttpResponse(PAGE.format("probed"))


async def custom_async(request: HttpRequest) -> HttpResponse:
    await order_paid.asend(sender=None, amount=request.GET.get("amount", "1"))
    return HttpResponse(PAGE.format("ok"))
