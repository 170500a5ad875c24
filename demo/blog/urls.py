from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("scenarios/create-user/", views.create_user, name="create_user"),
    path("scenarios/publish-post/", views.publish_post, name="publish_post"),
    path("scenarios/like/", views.like_and_unlike, name="like"),
    path("scenarios/delete-post/", views.delete_post, name="delete_post"),
]
