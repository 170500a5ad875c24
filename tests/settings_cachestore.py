"""The test settings with the toolbar's CacheStore (chosen at startup only)."""

from tests.settings import *  # noqa: F403

DEBUG_TOOLBAR_CONFIG = {
    **DEBUG_TOOLBAR_CONFIG,  # noqa: F405
    "TOOLBAR_STORE_CLASS": "debug_toolbar.store.CacheStore",
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
