"""The activities app's pages: creating and editing activities, their MOC registration.
(An activity's own page, with its participant records, is the participants app's.)"""

from django.urls import path

from . import views

urlpatterns = [
    path("activities/new/", views.activity_create, name="activity_create"),
    path("activities/<str:pars_id>/edit/", views.activity_edit, name="activity_edit"),
    path(
        "activities/<str:pars_id>/register/",
        views.registration_create,
        name="registration_create",
    ),
    path(
        "activities/<str:pars_id>/registration/",
        views.registration_edit,
        name="registration_edit",
    ),
    path(
        "activities/<str:pars_id>/withdraw/",
        views.registration_withdraw,
        name="registration_withdraw",
    ),
]
