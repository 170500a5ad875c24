from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from blog.models import Article, BlogPost, Comment


class Command(BaseCommand):
    help = "Creates the demo's users, posts and comments (once)."

    def handle(self, *args, **options):
        if not Article.objects.exists():  # a database seeded before articles
            Article.objects.create(title="Signals, explained")
        User = get_user_model()
        if User.objects.filter(username="ada").exists():
            return
        User.objects.create_superuser("admin", "admin@example.com", "admin")
        for name in ("ada", "grace", "linus"):
            User.objects.create(username=name)
        posts = [BlogPost.objects.create(title=f"Seed post {n + 1}") for n in range(3)]
        # Enough rows for the post_init flood scenario, without sending signals.
        Comment.objects.bulk_create(
            Comment(post=posts[n % 3], text=f"Comment {n}") for n in range(2000)
        )
        self.stdout.write("Seeded the demo database (admin / admin).")
