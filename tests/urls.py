from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("posts/create/", views.create_post, name="create_post"),
    path("fails/", views.fails, name="fails"),
    path("pay/", views.pay, name="pay"),
    path("rendered/", views.rendered, name="rendered"),
    path("posts/<int:pk>/save/", views.resave_post, name="resave_post"),
    path("posts/list/", views.list_posts, name="list_posts"),
    path("posts/create-async/", views.create_post_async, name="create_post_async"),
    path("posts/<int:pk>/like/", views.like_post, name="like_post"),
    path("custom/async/", views.custom_async, name="custom_async"),
    path("probe/async/", views.probe_async, name="probe_async"),
    # Not debug_toolbar_urls(): it returns nothing while tests run.
    path("__debug__/", include("debug_toolbar.urls")),
]
