from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from activities import views as activity_views
from participants import api, board_api
from participants import learner_activity_api as accme_api
from participants import views as participant_views

from . import views
from .lib import logins


def _api(view):
    """API views authenticate with API keys, not the portal's login."""
    return login_not_required(view.as_view())


board_answers = path("board/answers", _api(board_api.BoardAnswers), name="api_board_answers")
api_patterns = [
    path("learner-reports", _api(api.LearnerReportsView), name="api_learner_reports"),
    path("learner-reports/xml", _api(api.LearnerReportsXmlView), name="api_learner_reports_xml"),
    path("completions", _api(api.CompletionList), name="api_completions"),
    path("completions/status", _api(api.StatusQuery), name="api_status"),
    path("completions/<int:pk>", _api(api.CompletionDetail), name="api_completion"),
    path("learner-match", _api(api.LearnerMatch), name="api_learner_match"),
    path("activities", _api(api.ActivityList), name="api_activities"),
    path("activities/<str:activity_id>", _api(api.ActivityDetail), name="api_activity"),
    # ACCME's Learner Activity API (draft): its paths and parameter names.
    path("learner-activities", _api(accme_api.LearnerActivities), name="api_learner_activities"),
    path(
        "learner-activities/status",
        _api(accme_api.LearnerActivityStatus),
        name="api_learner_activity_status",
    ),
    path(
        "learner-activities/<str:learnerId>",
        _api(accme_api.LearnerActivity),
        name="api_learner_activity",
    ),
    board_answers,
    path(
        "board/schema",
        login_not_required(
            SpectacularAPIView.as_view(
                urlconf=[path("api/v1/", include([board_answers]))],
                custom_settings={
                    "TITLE": "PARS Portal: board answers (for ABIM)",
                    "DESCRIPTION": "Where the board posts its per-record answers to the "
                    "records the portal transmitted. Authenticated with the board's own token "
                    "(BOARD_ANSWER_TOKEN), not with a provider's API key.",
                    "PREPROCESSING_HOOKS": ["participants.board_api.board_endpoints"],
                },
            )
        ),
        name="api_board_schema",
    ),
    path("schema", login_not_required(SpectacularAPIView.as_view()), name="api_schema"),
    path(
        "docs",
        login_not_required(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
]

# Django's login pages, with the portal's login form (slowed down per username) and a
# password reset limited per address and client (pars_portal.lib.logins).
account_patterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=logins.LoginForm),
        name="login",
    ),
    path("password_reset/", logins.PasswordResetView.as_view(), name="password_reset"),
    *auth_urls.urlpatterns,
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("api/", participant_views.api_help, name="api_help"),
    path("api/keys/new/", participant_views.api_key_create, name="api_key_create"),
    path(
        "api/keys/<int:key_id>/created/",
        participant_views.api_key_created,
        name="api_key_created",
    ),
    path("api/keys/<int:key_id>/revoke/", participant_views.api_key_revoke, name="api_key_revoke"),
    path("", views.home, name="home"),
    path("activities/", activity_views.activity_list, name="activity_list"),
    path("activities/new/", activity_views.activity_create, name="activity_create"),
    path("activities/<str:pars_id>/", activity_views.activity_detail, name="activity_detail"),
    path("activities/<str:pars_id>/edit/", activity_views.activity_edit, name="activity_edit"),
    path(
        "activities/<str:pars_id>/register/",
        activity_views.registration_create,
        name="registration_create",
    ),
    path(
        "activities/<str:pars_id>/registration/",
        activity_views.registration_edit,
        name="registration_edit",
    ),
    path(
        "activities/<str:pars_id>/withdraw/",
        activity_views.registration_withdraw,
        name="registration_withdraw",
    ),
    path(
        "activities/<str:pars_id>/participants/check/",
        participant_views.learner_check,
        name="learner_check",
    ),
    path(
        "activities/<str:pars_id>/participants/add/",
        participant_views.participant_add,
        name="participant_add",
    ),
    path("participants/", participant_views.participant_search, name="participant_search"),
    path("participants/<int:pk>/", participant_views.completion_detail, name="completion_detail"),
    path(
        "participants/<int:pk>/delete/",
        participant_views.completion_delete,
        name="completion_delete",
    ),
    path(
        "participants/<int:pk>/correct/",
        participant_views.completion_correct,
        name="completion_correct",
    ),
    path(
        "activities/<str:pars_id>/export.<str:file_format>",
        participant_views.activity_export,
        name="activity_export",
    ),
    path(
        "participants/export.<str:file_format>",
        participant_views.participant_export,
        name="participant_export",
    ),
    path("uploads/", participant_views.upload_list, name="upload_list"),
    path("uploads/new/", participant_views.upload_create, name="upload_create"),
    path("uploads/help/", participant_views.upload_help, name="upload_help"),
    path(
        "uploads/template.<str:file_format>",
        participant_views.upload_template,
        name="upload_template",
    ),
    path("uploads/<int:upload_id>/", participant_views.upload_detail, name="upload_detail"),
    path(
        "uploads/<int:upload_id>/status/",
        participant_views.upload_status,
        name="upload_status",
    ),
    path(
        "uploads/<int:upload_id>/confirm/",
        participant_views.upload_confirm,
        name="upload_confirm",
    ),
    path("uploads/<int:upload_id>/retry/", participant_views.upload_retry, name="upload_retry"),
    path(
        "uploads/<int:upload_id>/discard/",
        participant_views.upload_discard,
        name="upload_discard",
    ),
    path("uploads/<int:upload_id>/errors/", participant_views.upload_errors, name="upload_errors"),
    path("review/", participant_views.review_queue, name="review_queue"),
    path("review/<int:follow_up_id>/", participant_views.review_detail, name="review_detail"),
    path("review/transmit/", participant_views.review_transmit, name="review_transmit"),
    path(
        "review/simulate-board/",
        participant_views.review_simulate_board,
        name="review_simulate_board",
    ),
    path("accounts/", include(account_patterns)),
    path("admin/", admin.site.urls),
]

handler404 = "pars_portal.views.page_not_found"
