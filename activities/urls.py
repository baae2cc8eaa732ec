"""The activities app's pages: creating and editing activities, their MOC registration, a
provider's staff. (An activity's own page, with its participant records, is the
participants app's; the invitation's set-password page is under accounts/.)"""

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
    path("staff/", views.staff_home, name="staff_home"),
    path("providers/<str:accme_id>/staff/", views.staff_list, name="staff_list"),
    path("providers/<str:accme_id>/staff/invite/", views.staff_invite, name="staff_invite"),
    path(
        "providers/<str:accme_id>/staff/<int:membership_id>/role/",
        views.staff_role,
        name="staff_role",
    ),
    path(
        "providers/<str:accme_id>/staff/<int:membership_id>/deactivate/",
        views.staff_deactivate,
        name="staff_deactivate",
    ),
]
