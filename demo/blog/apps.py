from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "blog"

    def ready(self) -> None:
        # Receivers are registered by importing the module, as Django recommends.
        from . import signals  # noqa: F401
