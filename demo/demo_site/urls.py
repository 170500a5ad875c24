from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("blog.urls")),
    # Explicit rather than debug_toolbar_urls(), which is empty while tests run.
    path("__debug__/", include("debug_toolbar.urls")),
]
if settings.DEBUG:
    # runserver serves static files itself; an ASGI server needs these.
    urlpatterns += staticfiles_urlpatterns()
