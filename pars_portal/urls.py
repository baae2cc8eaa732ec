from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from activities import views as activity_views
from participants import api, board_api
from participants import learner_activity_api as accme_api

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
    # A staff invitation's link (activities.staff): set a password, once, within days.
    path(
        "invitation/<uidb64>/<token>/",
        activity_views.StaffSetPasswordView.as_view(),
        name="staff_set_password",
    ),
    *auth_urls.urlpatterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    # activities/new/ before participants' activities/<pars_id>/
    path("", include("activities.urls")),
    path("", include("participants.urls")),
    path("api/v1/", include(api_patterns)),
    path("accounts/", include(account_patterns)),
    path("admin/", admin.site.urls),
]

handler404 = "pars_portal.views.page_not_found"
