"""Settings for the benchmarks: SQLite in memory, the toolbar, the panel."""

import debug_toolbar.settings

SECRET_KEY = "benchmarks-only"
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "debug_toolbar",
    "signals_panel",
    "benchmarks.benchapp",
]
MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"]
TEMPLATES = [
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "/static/"
DEBUG_TOOLBAR_PANELS = [
    *debug_toolbar.settings.PANELS_DEFAULTS,
    "signals_panel.panel.SignalTimelinePanel",
]
DEBUG_TOOLBAR_CONFIG = {
    "IS_RUNNING_TESTS": False,
    "SHOW_TOOLBAR_CALLBACK": "benchmarks.settings.show_toolbar",
    "RENDER_PANELS": False,
    "RESULTS_CACHE_SIZE": 3,
}
SIGNALS_PANEL = {"LOG_FINDINGS": False}


def show_toolbar(request):
    return request.GET.get("toolbar") == "1"
