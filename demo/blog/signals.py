"""The demo's receivers. Each is a pattern people write in real projects; the
comments say what the Signal timeline panel makes of it."""

import logging

from django.contrib.auth import get_user_model
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_save,
)
from django.dispatch import Signal, receiver
from django.utils.text import slugify

from .models import (
    Article,
    Author,
    BlogPost,
    Book,
    Comment,
    Draft,
    ListedPost,
    Order,
    Profile,
    Subscriber,
)

logger = logging.getLogger(__name__)
User = get_user_model()

# Custom signals, sent by the demo's own code.
post_published = Signal()
order_paid = Signal()


# -- users: created=True, then created=False ---------------------------------


@receiver(post_save, sender=User)
def create_profile(sender, instance, created, **kwargs):
    # Saving another model from post_save is fine: not flagged.
    if created:
        Profile.objects.create(user=instance)


@receiver(post_save, sender=Profile)
def note_new_profile(sender, instance, created, **kwargs):
    # Runs inside create_profile's save: nested under it in the timeline.
    if created:
        logger.info("profile created for user %s", instance.user_id)


# -- posts: pre_save with pk None, a custom signal sent from post_save --------


# -- articles: a pre_save change a save with update_fields does not write ----


@receiver(pre_save, sender=Article)
def set_slug(sender, instance, **kwargs):
    # Runs for save(update_fields=["title"]) too, whose UPDATE leaves slug out.
    instance.slug = slugify(instance.title)


@receiver(pre_save, sender=BlogPost)
def fill_in_body(sender, instance, **kwargs):
    # instance.pk is None here when the post is being created.
    if not instance.body:
        instance.body = f"(no text yet for {instance.title!r})"


@receiver(post_save, sender=BlogPost)
def announce_post(sender, instance, created, **kwargs):
    if instance.published:
        post_published.send(sender=BlogPost, post_id=instance.pk)


@receiver(post_published)
def notify_followers(sender, post_id, **kwargs):
    logger.info("followers notified about post %s", post_id)


def ping_search_engine(sender, post_id, **kwargs):
    logger.info("search engine pinged for post %s", post_id)


# The same custom signal, this time connected with connect().
post_published.connect(ping_search_engine, dispatch_uid="demo-ping-search-engine")


# -- likes: every m2m_changed action ------------------------------------------


@receiver(m2m_changed, sender=BlogPost.liked.through)
def count_likes(sender, instance, action, reverse, model, pk_set, **kwargs):
    logger.info("likes %s on %r (reverse=%s): %s", action, instance.pk, reverse, pk_set)


# The trap: m2m_changed is sent with the through model as sender, never the
# model. This receiver never runs; `manage.py check` (signals_panel.W001) and
# the panel's Receivers tab say so.
@receiver(m2m_changed, sender=BlogPost)
def notify_author_of_like(sender, instance, action, **kwargs):
    logger.info("post %s liked", instance.pk)


# -- deletes: each cascaded row ----------------------------------------------


@receiver(pre_delete, sender=BlogPost)
def archive_post(sender, instance, **kwargs):
    logger.info("archiving post %s before deletion", instance.pk)


@receiver(post_delete, sender=Comment)
def comment_removed(sender, instance, **kwargs):
    logger.info("comment %s removed", instance.pk)


# -- the classic double save -----------------------------------------------------


@receiver(post_save, sender=Subscriber)
def welcome_subscriber(sender, instance, created, **kwargs):
    # Flagged as double_save: the row is written twice. Setting welcomed before
    # the first save, or Subscriber.objects.filter(pk=...).update(...), is the fix.
    if created:
        instance.welcomed = True
        instance.save()


# -- pre_save that saves: RecursionError ------------------------------------------


@receiver(pre_save, sender=Draft)
def bump_revision(sender, instance, **kwargs):
    # Flagged as recursive_save: save() sends pre_save again, forever.
    instance.revision += 1
    instance.save()


# -- a cycle across two models, cut by a guard ------------------------------------


@receiver(post_save, sender=Book)
def count_books(sender, instance, **kwargs):
    author = instance.author
    author.books_count = author.books.count()
    author.save()


@receiver(post_save, sender=Author)
def copy_author_name(sender, instance, **kwargs):
    # The guard: only books whose copy is stale. Without it the cycle is endless.
    for book in instance.books.exclude(author_name=instance.name):
        book.author_name = instance.name
        book.save()


# -- send_robust with a failing receiver ----------------------------------------


@receiver(order_paid, sender=Order)
def send_receipt(sender, order_id, **kwargs):
    # send_robust() catches this: flagged as swallowed_error.
    raise ConnectionError("mail server unreachable")


@receiver(order_paid, sender=Order)
def update_stock(sender, order_id, **kwargs):
    logger.info("stock updated for order %s", order_id)


# -- a post_init receiver: runs for every loaded row --------------------------------


@receiver(post_init, sender=Comment)
def remember_loaded_text(sender, instance, **kwargs):
    # A common "track changes" pattern; with many rows it floods post_init.
    instance._loaded_text = instance.text


@receiver(post_init, sender=ListedPost)
def load_like_total(sender, instance, **kwargs):
    # Looks harmless on one object; a list of 30 posts runs 30 queries.
    if instance.pk is not None:
        instance.like_total = instance.liked.count()


# -- async ------------------------------------------------------------------------


@receiver(order_paid, sender=None)
async def record_payment_async(sender, order_id, **kwargs):
    logger.info("payment %s recorded asynchronously", order_id)
