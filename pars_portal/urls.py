from django.contrib import admin
from django.urls import include, path

from activities import views as activity_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("activities/", activity_views.activity_list, name="activity_list"),
    path("activities/<str:pars_id>/", activity_views.activity_detail, name="activity_detail"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
