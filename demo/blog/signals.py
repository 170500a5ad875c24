"""The demo's receivers: each one is a pattern people write in real projects."""

import logging

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import Signal, receiver

from .models import BlogPost, Comment

logger = logging.getLogger(__name__)
User = get_user_model()

post_published = Signal()


@receiver(post_save, sender=User)
def greet_new_user(sender, instance, created, **kwargs):
    if created:
        logger.info("Welcome e-mail queued for %s", instance.username)


@receiver(pre_save, sender=BlogPost)
def fill_in_body(sender, instance, **kwargs):
    # pk is None here when the post is being created.
    if not instance.body:
        instance.body = f"(no text yet for {instance.title!r})"


@receiver(post_save, sender=BlogPost)
def announce_post(sender, instance, created, **kwargs):
    if instance.published:
        post_published.send(sender=BlogPost, post_id=instance.pk)


@receiver(m2m_changed, sender=BlogPost.liked.through)
def count_likes(sender, instance, action, pk_set, **kwargs):
    logger.info("likes %s on %r: %s", action, instance.pk, pk_set)


@receiver(post_delete, sender=Comment)
def comment_removed(sender, instance, **kwargs):
    logger.info("comment %s removed", instance.pk)


def notify_followers(sender, post_id, **kwargs):
    logger.info("followers notified about post %s", post_id)


post_published.connect(notify_followers)
