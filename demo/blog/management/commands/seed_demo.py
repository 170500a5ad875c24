from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from blog.models import BlogPost


class Command(BaseCommand):
    help = "Creates the demo's users and posts (once)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.exists():
            return
        User.objects.create_superuser("admin", "admin@example.com", "admin")
        for name in ("ada", "grace", "linus"):
            User.objects.create(username=name)
        for index in range(3):
            BlogPost.objects.create(title=f"Seed post {index + 1}")
        self.stdout.write("Seeded the demo database (admin / admin).")
