"""Web services for learning management systems, under /api/v1/ (Django REST framework).

Authentication is a per-provider API key (`Authorization: Bearer <key>`); every queryset
goes through `access.api_scope()`. Learner reports go through the same parser (XML) or the
same value readers (JSON) as uploads, then through the one intake pipeline.
"""

import io
import secrets

from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, generics, parsers, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from activities.deadlines import deadline_table
from activities.models import Activity, Board, Channel, MocRegistration
from pars_portal.access import api_scope

from . import services
from .apikeys import KeyRateThrottle, LearnerMatchThrottle
from .intake import Result, intake_submit
from .models import Completion
from .parsers import FileRefused, parse_xml, read_birth_date, read_date, row_from_values
from .tasks import send_rejection_digests
from .verification import Candidate, Outcome, get_verifier

TOO_MANY_RECORDS = "A request may carry at most {limit} records; this one has {count}."
NO_RECORDS = "The request contains no records."
UNKNOWN_FIELD = "Unknown field."


class XMLBodyParser(parsers.BaseParser):
    """Hands the raw XML stream to the upload's XML parser (no second XML parser here)."""

    media_type = "application/xml"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        # Through Django's request.body, as DRF's JSON parser does: a body over
        # DATA_UPLOAD_MAX_MEMORY_SIZE (API_MAX_BODY_MB) is refused before it is read.
        return parser_context["request"].body


class TextXMLBodyParser(XMLBodyParser):
    media_type = "text/xml"


# --- Serializers ----------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return super().to_internal_value(data)


def _value(**kwargs):
    # Leaves are read by the portal's own value readers, so they arrive as text; numbers
    # are accepted too. Wrong values become per-record errors, not a 400.
    return serializers.CharField(allow_blank=True, trim_whitespace=True, **kwargs)


class LearnerSerializer(StrictSerializer):
    board = _value(required=False, default="ABIM")
    boardId = _value(help_text="The learner's board ID (ABIM: 6 digits).")
    firstName = _value()
    lastName = _value()
    birthMonth = _value(required=False, help_text="1–12")
    birthDay = _value(required=False, help_text="1–31")
    birthDate = _value(required=False, help_text="--MM-DD or YYYY-MM-DD (year ignored)")


class CreditSerializer(StrictSerializer):
    creditType = _value(help_text="MK, PA or PS")
    points = _value(help_text="MOC points, a multiple of 0.25")
    cmeCredits = _value(required=False)
    creditId = _value(
        required=False,
        help_text="Your idempotency key: ccid:<your system>:<your ID>, e.g. ccid:mylms:42",
    )


class ReportSerializer(StrictSerializer):
    action = _value(required=False, default="add", help_text="add or delete")
    activityId = _value(required=False, help_text="The 9-digit PARS activity ID")
    moduleCode = _value(required=False, help_text="A legacy ABIM module code (until sunset)")
    learner = LearnerSerializer()
    completionDate = _value(help_text="YYYY-MM-DD or MM/DD/YYYY")
    learnerPermission = serializers.BooleanField(default=True)
    credits = CreditSerializer(many=True, allow_empty=False)


class LearnerReportsSerializer(StrictSerializer):
    reports = ReportSerializer(many=True)


class RecordResultSerializer(serializers.Serializer):
    record = serializers.IntegerField(help_text="1-based position of the record in the request")
    result = serializers.ChoiceField(choices=[r.value for r in Result])
    id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    warning = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    errors = serializers.DictField(child=serializers.CharField())


class SubmitResponseSerializer(serializers.Serializer):
    sandbox = serializers.BooleanField()
    totals = serializers.DictField(child=serializers.IntegerField())
    results = RecordResultSerializer(many=True)


class LateSerializer(serializers.Serializer):
    deadline = serializers.ChoiceField(choices=["on_time", "grace", "late"])
    over30Days = serializers.BooleanField()


class CompletionSerializer(serializers.ModelSerializer):
    activityId = serializers.CharField(source="activity.pars_id")
    board = serializers.CharField(source="board.code")
    boardId = serializers.CharField(source="learner_id")
    firstName = serializers.CharField(source="first_name")
    lastName = serializers.CharField(source="last_name")
    birthMonth = serializers.IntegerField(source="birth_month")
    birthDay = serializers.IntegerField(source="birth_day")
    completionDate = serializers.DateField(source="completion_date")
    creditType = serializers.CharField(source="credit_type.code")
    points = serializers.DecimalField(source="moc_points", max_digits=6, decimal_places=2)
    cmeCredits = serializers.DecimalField(
        source="cme_credits", max_digits=6, decimal_places=2, allow_null=True
    )
    creditId = serializers.CharField(source="credit_id", allow_null=True)
    statusReason = serializers.CharField(source="status_reason")
    statusChangedAt = serializers.DateTimeField(source="status_changed_at")
    createdAt = serializers.DateTimeField(source="created_at")
    sandbox = serializers.BooleanField(source="is_sandbox")
    correctsId = serializers.IntegerField(source="corrects_id", allow_null=True)
    late = serializers.SerializerMethodField(help_text="Deadline flags (pars-spec §6)")

    class Meta:
        model = Completion
        fields = [
            "id", "activityId", "board", "boardId", "firstName", "lastName", "birthMonth",
            "birthDay", "completionDate", "creditType", "points", "cmeCredits", "creditId",
            "status", "statusReason", "warning", "statusChangedAt", "createdAt", "channel",
            "sandbox", "correctsId", "late",
        ]  # fmt: skip

    @extend_schema_field(LateSerializer)
    def get_late(self, completion):
        table = self.context.get("deadlines")
        result = completion.lateness(table)
        return {"deadline": result.deadline or "on_time", "over30Days": result.over_30_days}


class StatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    creditType = serializers.CharField()
    status = serializers.CharField()
    statusReason = serializers.CharField()
    statusChangedAt = serializers.DateTimeField()


class RegistrationSerializer(serializers.Serializer):
    board = serializers.CharField()
    points = serializers.CharField()
    creditTypes = serializers.ListField(child=serializers.CharField())


class ActivitySerializer(serializers.ModelSerializer):
    activityId = serializers.CharField(source="pars_id")
    providerActivityId = serializers.CharField(source="provider_activity_id")
    activityType = serializers.CharField(source="get_activity_type_display")
    startDate = serializers.DateField(source="start_date")
    endDate = serializers.DateField(source="end_date")
    reportingYear = serializers.IntegerField(source="reporting_year")
    cmeCredits = serializers.DecimalField(source="cme_credits", max_digits=6, decimal_places=2)
    legacyModuleCode = serializers.CharField(source="legacy_module_code", allow_null=True)
    registration = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "activityId", "providerActivityId", "title", "activityType", "startDate", "endDate",
            "reportingYear", "cmeCredits", "legacyModuleCode", "registration",
        ]  # fmt: skip

    @extend_schema_field(RegistrationSerializer(allow_null=True))
    def get_registration(self, activity):
        registration = next(iter(activity.active_registrations), None)
        if registration is None:
            return None
        return {
            "board": registration.board.code,
            "points": str(registration.moc_points),
            "creditTypes": sorted(ct.code for ct in registration.credit_types.all()),
        }


# --- Views ------------------------------------------------------------------------------------


def _id_lengths():
    return {b.code: b.board_id_length for b in Board.objects.all()}


def _rows_from_json(data, id_lengths):
    """JSON reports → ParticipantRows through the same value readers as uploads."""
    number = 0
    for report in data["reports"]:
        learner = report["learner"]
        for credit in report["credits"]:
            number += 1
            birth_month, birth_day = learner.get("birthMonth"), learner.get("birthDay")
            if learner.get("birthDate") and not (birth_month or birth_day):
                try:
                    birth_month, birth_day = (str(v) for v in read_birth_date(learner["birthDate"]))
                except ValueError:
                    birth_month, birth_day = "", ""
            values = {
                "action": report.get("action", "add"),
                "activity_ref": report.get("activityId") or report.get("moduleCode", ""),
                "board_code": learner.get("board", "ABIM"),
                "learner_id": learner["boardId"],
                "first_name": learner["firstName"],
                "last_name": learner["lastName"],
                "birth_month": birth_month or "",
                "birth_day": birth_day or "",
                "completion_date": report["completionDate"],
                "credit_type": credit["creditType"],
                "moc_points": credit["points"],
                "cme_credits": credit.get("cmeCredits", ""),
                "learner_permission": "Y" if report.get("learnerPermission", True) else "N",
                "credit_id": credit.get("creditId", ""),
            }
            row = row_from_values(number, values, None, id_lengths)
            if report.get("moduleCode") and not report.get("activityId"):
                row.activity_ref = report["moduleCode"].strip()  # legacy codes keep letters
            yield row


class LearnerReportsView(APIView):
    parser_classes = [parsers.JSONParser, XMLBodyParser, TextXMLBodyParser]
    throttle_classes = [KeyRateThrottle]

    @extend_schema(
        operation_id="submit_learner_reports",
        summary="Submit learner reports (JSON or XML)",
        description=(
            "Up to 10,000 records per request, as JSON (below) or as the XML learner report "
            "(`Content-Type: application/xml`). One result per record, in order: `created`, "
            "`already_reported` (an idempotent retry: same credit ID or same learner, "
            "activity, credit type and date) or `error` with the field and reason. A body "
            "that cannot be read gets 400 and nothing is saved."
        ),
        request={"application/json": LearnerReportsSerializer, "application/xml": OpenApiTypes.STR},
        responses={200: SubmitResponseSerializer},
    )
    def post(self, request):
        key = request.auth
        id_lengths = _id_lengths()
        limit = settings.API_MAX_RECORDS
        if isinstance(request.data, bytes):
            try:
                rows = list(
                    parse_xml(io.BytesIO(request.data), provider_id=key.provider.accme_id,
                              id_lengths=id_lengths)
                )  # fmt: skip
            except FileRefused as error:
                raise exceptions.ParseError(str(error)) from None
        else:
            serializer = LearnerReportsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            rows = list(_rows_from_json(serializer.validated_data, id_lengths))
        if not rows:
            raise exceptions.ParseError(NO_RECORDS)
        if len(rows) > limit:
            raise exceptions.ParseError(TOO_MANY_RECORDS.format(limit=limit, count=len(rows)))
        result = intake_submit(
            provider=key.provider,
            rows=rows,
            actor=key.created_by,
            channel=Channel.API,
            sandbox=key.is_sandbox,
        )
        rejected = [
            o.completion_id
            for o in result.outcomes
            if o.result == Result.CREATED and o.status == Completion.Status.REJECTED
        ]
        if rejected and not key.is_sandbox:
            send_rejection_digests.enqueue(rejected)
        return Response(
            {
                "sandbox": key.is_sandbox,
                "totals": result.totals,
                "results": [
                    {
                        "record": number,
                        "result": o.result.value,
                        "id": o.completion_id,
                        "status": o.status,
                        "reason": o.reason,
                        "warning": o.warning,
                        "message": o.message,
                        "errors": o.errors,
                    }
                    for number, o in enumerate(result.outcomes, start=1)
                ],
            }
        )


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _completions(request):
    return api_scope(
        Completion.objects.select_related("activity", "board", "credit_type"), request.auth
    )


class CompletionList(generics.ListAPIView):
    serializer_class = CompletionSerializer
    pagination_class = Pagination
    throttle_classes = [KeyRateThrottle]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "deadlines": deadline_table()}

    @extend_schema(
        summary="List participant records (for LMS polling)",
        parameters=[
            OpenApiParameter("activityId", str, description="PARS activity ID"),
            OpenApiParameter("status", str, enum=Completion.Status.values),
            OpenApiParameter("boardId", str),
            OpenApiParameter("completionDate", OpenApiTypes.DATE),
            OpenApiParameter(
                "updatedSince",
                OpenApiTypes.DATETIME,
                description="Only records whose status changed at or after this time",
            ),  # fmt: skip
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        records = _completions(self.request).order_by("status_changed_at", "id")
        if value := params.get("activityId"):
            records = records.filter(activity__pars_id=value.strip().zfill(9))
        if value := params.get("status"):
            records = records.filter(status=value)
        if value := params.get("boardId"):
            records = records.filter(learner_id=value.strip())
        try:
            if value := params.get("completionDate"):
                records = records.filter(completion_date=read_date(value))
            if value := params.get("updatedSince"):
                since = serializers.DateTimeField().to_internal_value(value)
                records = records.filter(status_changed_at__gte=since)
        except (ValueError, serializers.ValidationError) as error:
            raise exceptions.ParseError(f"Invalid filter: {error}") from None
        return records


class DeleteSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, default="Deleted through the web service")


class CompletionDetail(APIView):
    throttle_classes = [KeyRateThrottle]

    @extend_schema(summary="One participant record", responses={200: CompletionSerializer})
    def get(self, request, pk):
        return Response(CompletionSerializer(get_object_or_404(_completions(request), pk=pk)).data)

    @extend_schema(
        summary="Delete (withdraw) a record; it is kept as deleted, with the reason",
        request=DeleteSerializer,
        responses={200: CompletionSerializer},
    )
    def delete(self, request, pk):
        completion = get_object_or_404(_completions(request), pk=pk)
        data = DeleteSerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        try:
            services.completion_delete(
                completion=completion,
                actor=request.auth.created_by,
                reason=data.validated_data["reason"],
                channel=Channel.API,
            )
        except services.ValidationError as error:
            return Response({"detail": error.messages[0]}, status=status.HTTP_409_CONFLICT)
        completion.refresh_from_db()
        return Response(CompletionSerializer(completion).data)


class StatusQuery(APIView):
    throttle_classes = [KeyRateThrottle]

    @extend_schema(
        summary="Status of a record, like PARS's status query",
        description="Either `creditId`, or `activityId` + `boardId` + `birth` (MM-DD) + "
        "`completionDate`. Returns the matching current records (one per credit type).",
        parameters=[
            OpenApiParameter("creditId", str),
            OpenApiParameter("activityId", str),
            OpenApiParameter("boardId", str),
            OpenApiParameter("birth", str, description="MM-DD"),
            OpenApiParameter("completionDate", OpenApiTypes.DATE),
        ],
        responses={200: StatusSerializer(many=True)},
    )
    def get(self, request):
        params = request.query_params
        records = _completions(request).exclude(status=Completion.Status.DELETED)
        if credit_id := params.get("creditId"):
            records = records.filter(credit_id=credit_id.strip())
        else:
            needed = ["activityId", "boardId", "birth", "completionDate"]
            missing = [n for n in needed if not params.get(n)]
            if missing:
                raise exceptions.ParseError(
                    "Give creditId, or activityId, boardId, birth (MM-DD) and completionDate; "
                    f"missing: {', '.join(missing)}."
                )
            try:
                month, day = read_birth_date(params["birth"])
                date = read_date(params["completionDate"])
            except ValueError as error:
                raise exceptions.ParseError(str(error)) from None
            records = records.filter(
                activity__pars_id=params["activityId"].strip().zfill(9),
                learner_id=params["boardId"].strip(),
                birth_month=month,
                birth_day=day,
                completion_date=date,
            )
        found = [
            {
                "id": c.pk,
                "creditType": c.credit_type.code,
                "status": c.status,
                "statusReason": c.status_reason,
                "statusChangedAt": c.status_changed_at,
            }
            for c in records.order_by("credit_type__code")
        ]
        if not found:
            raise exceptions.NotFound("No current record matches.")
        return Response(StatusSerializer(found, many=True).data)


class LearnerMatchSerializer(StrictSerializer):
    board = serializers.CharField(required=False, default="ABIM")
    boardId = serializers.CharField()
    firstName = serializers.CharField()
    lastName = serializers.CharField()
    birthMonth = serializers.IntegerField(min_value=1, max_value=12)
    birthDay = serializers.IntegerField(min_value=1, max_value=31)


MATCH_RESULTS = {
    Outcome.MATCH: "match",
    Outcome.NOT_FOUND: "not_found",
    Outcome.BIRTH_MISMATCH: "birth_date_mismatch",
    Outcome.UNAVAILABLE: "unavailable",
}


class LearnerMatch(APIView):
    throttle_classes = [LearnerMatchThrottle]

    @extend_schema(
        summary="Check a learner against the board's roster before submitting",
        request=LearnerMatchSerializer,
        responses={
            200: inline_serializer(
                "LearnerMatchResult",
                {"result": serializers.ChoiceField(
                    choices=["match", "not_found", "birth_date_mismatch", "name_differs",
                             "unavailable"]
                )},
            )
        },
    )  # fmt: skip
    def post(self, request):
        data = LearnerMatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        board = Board.objects.filter(code=values["board"].upper()).first()
        if board is None:
            raise exceptions.ParseError(f"Unknown board {values['board']!r}.")
        verdict = get_verifier().verify(
            [
                Candidate(
                    board_id=board.pk,
                    board_code=board.code,
                    learner_id=values["boardId"].strip(),
                    first_name=values["firstName"],
                    last_name=values["lastName"],
                    birth_month=values["birthMonth"],
                    birth_day=values["birthDay"],
                )
            ]
        )[0]
        result = MATCH_RESULTS[verdict.outcome]
        if verdict.outcome == Outcome.MATCH and verdict.warning:
            result = "name_differs"
        return Response({"result": result})


def _activities(request):
    registrations = (
        MocRegistration.objects.filter(status=MocRegistration.Status.ACTIVE)
        .select_related("board")
        .prefetch_related("credit_types")
    )
    return api_scope(Activity.objects.all(), request.auth).prefetch_related(
        Prefetch("registrations", queryset=registrations, to_attr="active_registrations")
    )


class ActivityList(generics.ListAPIView):
    serializer_class = ActivitySerializer
    pagination_class = Pagination
    throttle_classes = [KeyRateThrottle]

    def get_queryset(self):
        return _activities(self.request).order_by("-reporting_year", "pars_id")


class ActivityDetail(generics.RetrieveAPIView):
    serializer_class = ActivitySerializer
    throttle_classes = [KeyRateThrottle]
    lookup_field = "pars_id"
    lookup_url_kwarg = "activity_id"

    def get_queryset(self):
        return _activities(self.request)


STRICT_REQUESTS = {
    "LearnerReportsRequest", "ReportRequest", "LearnerRequest", "CreditRequest",
    "LearnerMatchRequest", "DeleteRequest",
}  # fmt: skip
NON_EMPTY_LISTS = {("LearnerReportsRequest", "reports"), ("ReportRequest", "credits")}


def strict_request_schemas(result, generator, request, public):
    """The request bodies refuse unknown fields and empty lists: say so in the schema."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in STRICT_REQUESTS & schemas.keys():
        schemas[name]["additionalProperties"] = False
    for name, field in NON_EMPTY_LISTS:
        if name in schemas:
            schemas[name]["properties"][field]["minItems"] = 1
    return result


class BoardAnswers(APIView):
    """For the board (ABIM) only: per-record answers to transmitted records. Authenticated
    with the board's own token (BOARD_ANSWER_TOKEN), not a provider key."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        summary="Board answers (for ABIM, not for providers)",
        request=inline_serializer(
            "BoardAnswer",
            {"recordId": serializers.IntegerField(), "result": serializers.ChoiceField(
                choices=["accepted", "rejected"]), "reasonCode": serializers.CharField(
                required=False), "reason": serializers.CharField(required=False)},
            many=True,
        ),
        responses={200: inline_serializer("BoardAnswerReport", {
            "confirmed": serializers.IntegerField(), "rejected": serializers.IntegerField(),
            "unchanged": serializers.IntegerField(),
            "problems": serializers.ListField(child=serializers.CharField())})},
    )  # fmt: skip
    def post(self, request):
        from .transmission import ingest_answers

        token = settings.BOARD_ANSWER_TOKEN
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not token or not secrets.compare_digest(header, f"Bearer {token}"):
            return Response(
                {"detail": "The board's token is required."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Bearer realm="PARS board answers"'},
            )
        if not isinstance(request.data, list):
            raise exceptions.ParseError("Expected a JSON list of answers.")
        report = ingest_answers(request.data)
        return Response(
            {"confirmed": report.confirmed, "rejected": report.rejected,
             "unchanged": report.unchanged, "problems": report.problems}
        )  # fmt: skip
