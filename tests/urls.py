from debug_toolbar.toolbar import debug_toolbar_urls
from django.urls import path

from tests.testapp import views

urlpatterns = [
    path("posts/create/", views.create_post, name="create_post"),
    path("posts/create-async/", views.create_post_async, name="create_post_async"),
    path("posts/<int:pk>/like/", views.like_post, name="like_post"),
    path("custom/async/", views.custom_async, name="custom_async"),
    *debug_toolbar_urls(),
]
