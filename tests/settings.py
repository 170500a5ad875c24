"""Settings for the test suite: a real SQLite database and the real toolbar."""

from pathlib import Path

import debug_toolbar.settings

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
INTERNAL_IPS = ["127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "debug_toolbar",
    "signals_panel",
    "tests.testapp",
]

MIDDLEWARE = [
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # The test run uses an in-memory copy; this file is never created.
        "NAME": BASE_DIR / "tests" / "unused.sqlite3",
    }
}

STATIC_URL = "/static/"

DEBUG_TOOLBAR_PANELS = [
    *debug_toolbar.settings.PANELS_DEFAULTS,
    "signals_panel.panel.SignalTimelinePanel",
]
DEBUG_TOOLBAR_CONFIG = {
    "IS_RUNNING_TESTS": False,
    "SHOW_TOOLBAR_CALLBACK": "tests.settings.show_toolbar",
}


def show_toolbar(request):
    return not request.GET.get("no_toolbar")
