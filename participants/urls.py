"""The participants app's pages: activity pages with their records, records, uploads, the
web services page and the reviewers' queue. (The REST API is under pars_portal.urls.)"""

from django.urls import path

from .views import activities, keys, records, review, uploads

urlpatterns = [
    path("activities/", activities.activity_list, name="activity_list"),
    path("activities/<str:pars_id>/", activities.activity_detail, name="activity_detail"),
    path("api/", keys.api_help, name="api_help"),
    path("api/keys/new/", keys.api_key_create, name="api_key_create"),
    path(
        "api/keys/<int:key_id>/created/",
        keys.api_key_created,
        name="api_key_created",
    ),
    path("api/keys/<int:key_id>/revoke/", keys.api_key_revoke, name="api_key_revoke"),
    path(
        "activities/<str:pars_id>/participants/check/",
        activities.learner_check,
        name="learner_check",
    ),
    path(
        "activities/<str:pars_id>/participants/add/",
        activities.participant_add,
        name="participant_add",
    ),
    path("participants/", records.participant_search, name="participant_search"),
    path("participants/<int:pk>/", records.completion_detail, name="completion_detail"),
    path(
        "participants/<int:pk>/delete/",
        records.completion_delete,
        name="completion_delete",
    ),
    path(
        "participants/<int:pk>/correct/",
        records.completion_correct,
        name="completion_correct",
    ),
    path(
        "activities/<str:pars_id>/export.<str:file_format>",
        activities.activity_export,
        name="activity_export",
    ),
    path(
        "participants/export.<str:file_format>",
        records.participant_export,
        name="participant_export",
    ),
    path("uploads/", uploads.upload_list, name="upload_list"),
    path("uploads/new/", uploads.upload_create, name="upload_create"),
    path("uploads/help/", uploads.upload_help, name="upload_help"),
    path(
        "uploads/template.<str:file_format>",
        uploads.upload_template,
        name="upload_template",
    ),
    path("uploads/<int:upload_id>/", uploads.upload_detail, name="upload_detail"),
    path(
        "uploads/<int:upload_id>/status/",
        uploads.upload_status,
        name="upload_status",
    ),
    path(
        "uploads/<int:upload_id>/confirm/",
        uploads.upload_confirm,
        name="upload_confirm",
    ),
    path("uploads/<int:upload_id>/retry/", uploads.upload_retry, name="upload_retry"),
    path(
        "uploads/<int:upload_id>/discard/",
        uploads.upload_discard,
        name="upload_discard",
    ),
    path("uploads/<int:upload_id>/errors/", uploads.upload_errors, name="upload_errors"),
    path("review/", review.review_queue, name="review_queue"),
    path("review/<int:follow_up_id>/", review.review_detail, name="review_detail"),
    path("review/transmit/", review.review_transmit, name="review_transmit"),
    path(
        "review/simulate-board/",
        review.review_simulate_board,
        name="review_simulate_board",
    ),
]
