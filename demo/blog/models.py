"""The demo's models: users and blog posts with likes, plus one small model per
trap, so each scenario shows exactly one thing."""

from django.conf import settings
from django.db import models


class BlogPost(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    published = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    liked = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="liked_posts", blank=True
    )

    def __str__(self) -> str:
        return self.title


class ListedPost(BlogPost):
    """Posts as a list page shows them: a post_init receiver counts each
    one's likes, one query per row loaded."""

    class Meta:
        proxy = True


class Comment(models.Model):
    post = models.ForeignKey(
        BlogPost, on_delete=models.CASCADE, related_name="comments"
    )
    text = models.TextField()

    def __str__(self) -> str:
        return self.text[:40]


class Profile(models.Model):
    """Created for each new user by a post_save receiver: a different model."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    bio = models.TextField(blank=True)


class Subscriber(models.Model):
    """The classic 'guard with created, then save again' pattern."""

    email = models.EmailField()
    welcomed = models.BooleanField(default=False)


class Draft(models.Model):
    """Its pre_save receiver saves the instance: endless recursion."""

    title = models.CharField(max_length=200)
    revision = models.IntegerField(default=0)


class Author(models.Model):
    name = models.CharField(max_length=100)
    books_count = models.IntegerField(default=0)


class Book(models.Model):
    """Book and Author save each other from post_save: a cycle, cut by a guard."""

    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=200)
    author_name = models.CharField(max_length=100, blank=True)


class Order(models.Model):
    number = models.CharField(max_length=20)
    total = models.DecimalField(max_digits=8, decimal_places=2)
    paid = models.BooleanField(default=False)


class Article(models.Model):
    """Its slug follows its title, set by a pre_save receiver."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, blank=True)
