"""The board's side of the web services: ABIM posts its per-record answers here, with its
own token (BOARD_ANSWER_TOKEN), not a provider's key. Documented in its own schema
(/api/v1/board/schema), not in the providers' one."""

import secrets

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from pars_portal.lib.openapi import bearer_scheme

from .apibase import JSONBodyParser, error_responses
from .transmission import ingest_answers

BOARD_TOKEN_REQUIRED = "The board's token is required."  # noqa: S105 - a message


class BoardTokenAuthentication(authentication.BaseAuthentication):
    """The board's own token (BOARD_ANSWER_TOKEN), not a provider key."""

    def authenticate(self, request):
        token = settings.BOARD_ANSWER_TOKEN
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        if not token or not secrets.compare_digest(header.encode(), f"Bearer {token}".encode()):
            raise exceptions.AuthenticationFailed(BOARD_TOKEN_REQUIRED)
        return None, "board"

    def authenticate_header(self, request):
        return 'Bearer realm="PARS board answers"'


class IsTheBoard:
    message = BOARD_TOKEN_REQUIRED

    def has_permission(self, request, view):
        return request.auth == "board"

    def has_object_permission(self, request, view, obj):
        return True


class BoardAnswerSerializer(serializers.Serializer):
    recordId = serializers.IntegerField()
    result = serializers.ChoiceField(choices=["accepted", "rejected"])
    reasonCode = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)


class BoardAnswers(APIView):
    """For the board (ABIM) only: per-record answers to transmitted records. Documented in
    the board's own schema (/api/v1/board/schema), not in the providers' one."""

    authentication_classes = [BoardTokenAuthentication]
    permission_classes = [IsTheBoard]
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="post_board_answers",
        summary="Board answers (for ABIM, not for providers)",
        request=BoardAnswerSerializer(many=True),
        responses={200: inline_serializer("BoardAnswerReport", {
            "confirmed": serializers.IntegerField(), "rejected": serializers.IntegerField(),
            "unchanged": serializers.IntegerField(),
            "problems": serializers.ListField(child=serializers.CharField())}),
            **error_responses(400, 401, 413, 415)},
    )  # fmt: skip
    def post(self, request):
        if not isinstance(request.data, list):
            raise exceptions.ParseError("Expected a JSON list of answers.")
        report = ingest_answers(request.data)
        return Response(
            {"confirmed": report.confirmed, "rejected": report.rejected,
             "unchanged": report.unchanged, "problems": report.problems}
        )  # fmt: skip


BOARD_PATH = "/api/v1/board/"


def provider_endpoints(endpoints):
    """The providers' schema leaves out the board's endpoint."""
    return [e for e in endpoints if not e[0].startswith(BOARD_PATH)]


def board_endpoints(endpoints):
    return [e for e in endpoints if e[0].startswith(BOARD_PATH) and not e[0].endswith("schema")]


BoardTokenScheme = bearer_scheme(
    BoardTokenAuthentication,
    "BoardToken",
    "The board's token (BOARD_ANSWER_TOKEN), not a provider key.",
)  # in the OpenAPI schema
