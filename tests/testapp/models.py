from django.conf import settings
from django.db import models


class BlogPost(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    liked = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="liked_posts", blank=True
    )

    def __str__(self) -> str:
        # A __str__ that queries: rendering must never call it.
        return f"{self.title} by {self.author}"


class Comment(models.Model):
    post = models.ForeignKey(
        BlogPost, on_delete=models.CASCADE, related_name="comments"
    )
    text = models.TextField()


class Folder(models.Model):
    name = models.CharField(max_length=100)


class Note(models.Model):
    """Nobody ever listens to Note: deleting a folder fast-deletes its notes."""

    folder = models.ForeignKey(Folder, on_delete=models.CASCADE)
    text = models.TextField(blank=True)


class Hostile(models.Model):
    """A model whose __repr__ and __str__ raise."""

    name = models.CharField(max_length=100)

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


class Category(models.Model):
    """A tree: saving a child may save its parent (a different row)."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE)
    children_count = models.IntegerField(default=0)


class Author(models.Model):
    """Half of a cross-model cycle with Book."""

    name = models.CharField(max_length=100)
    books_count = models.IntegerField(default=0)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    author_name = models.CharField(max_length=100, blank=True)


class Place(models.Model):
    name = models.CharField(max_length=50)


class Restaurant(Place):
    """Multi-table inheritance: a save writes the place row too."""

    seats = models.IntegerField(default=0)


class Stamped(models.Model):
    """Abstract, and no model of the app inherits it."""

    stamped_at = models.DateTimeField(null=True)

    class Meta:
        abstract = True
