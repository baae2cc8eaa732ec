"""Web services for learning management systems, under /api/v1/ (Django REST framework).

Two contracts, one pipeline: the portal's own (`learner-reports`, `completions`, …) and
ACCME's Learner Activity API draft (`learner-activities`, pars-spec §9), whose documents are
the learner report of ACCME's JSON Schema. Authentication is a per-provider API key
(`Authorization: Bearer <key>`); every queryset goes through `access.api_scope()`. Learner
reports go through the same readers as uploads (XML, ACCME JSON) or the same value readers
(the portal's JSON), then through the one intake pipeline. Every error answer has one
shape: `{"detail": "…", "errors": [{"path", "message", "report"}]}`.
"""

import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from activities.deadlines import deadline_table
from activities.models import Activity, Board, Channel, MocRegistration
from activities.validators import CREDIT_ID_MAX
from pars_portal.lib.access import api_scope

from .apibase import (
    AUTHENTICATED,
    WITH_BODY,
    JSONBodyParser,
    ReportInvalid,
    TextXMLBodyParser,
    XMLBodyParser,
    error_body,
    error_item,
    error_responses,
)
from .apikeys import KeyRateThrottle, LearnerMatchThrottle
from .filters import ApiFilterBackend, CompletionApiFilter
from .intake import intake_submit
from .models import Completion
from .parsers import (
    XML_FIELD_LABELS,
    FileRefused,
    ReportShapeError,
    parse_accme_json,
    parse_xml,
    read_birth_date,
    read_date,
    row_from_values,
)
from .rows import Result
from .services.records import completion_delete
from .verification import Candidate, Outcome, RosterGuard, get_verifier

TOO_MANY_RECORDS = "A request may carry at most {limit} records; this one has {count}."
NO_RECORDS = "The request contains no records."
JSON_NOT_A_REPORT = (
    "The body must be ACCME's learner report document: a JSON object with the member "
    "ACCMELearnerReports."
)
UNKNOWN_FIELD = "Unknown field."


# --- Serializers ----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class IntegerValue(serializers.CharField):
    """Documented as an integer; digits in a string are read too (pars-spec §8.4)."""

    default_error_messages = {"invalid": "Not a valid integer."}


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberValue(serializers.CharField):
    """Documented as a number; a number in a string is read too."""

    default_error_messages = {"invalid": "Not a valid number."}


@extend_schema_field(
    {"type": "string", "pattern": "^ccid:[^:]+:[^:]+$", "maxLength": CREDIT_ID_MAX}
)
class CreditIdValue(serializers.CharField):
    """Documented with the drafts' form; a credit ID of another form is a record error."""


@extend_schema_field(OpenApiTypes.DATE)
class DateValue(serializers.CharField):
    """Documented as a date (YYYY-MM-DD); MM/DD/YYYY is read too."""

    default_error_messages = {"invalid": "Not a valid date."}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return super().to_internal_value(data)


def _value(kind=serializers.CharField, **kwargs):
    # Leaves are read by the portal's own value readers, so they arrive as text; numbers
    # are accepted too. Wrong values become per-record errors, not a 400.
    return kind(allow_blank=True, trim_whitespace=True, **kwargs)


class LearnerSerializer(StrictSerializer):
    board = _value(required=False, default="ABIM")
    boardId = _value(help_text="The learner's board ID (ABIM: 6 digits).")
    firstName = _value()
    lastName = _value()
    birthMonth = _value(IntegerValue, required=False, help_text="1–12")
    birthDay = _value(IntegerValue, required=False, help_text="1–31")
    birthDate = _value(required=False, help_text="--MM-DD or YYYY-MM-DD (year ignored)")


class CreditSerializer(StrictSerializer):
    creditType = _value(help_text="MK, PA or PS")
    points = _value(NumberValue, help_text="MOC points, a multiple of 0.25")
    cmeCredits = _value(NumberValue, required=False, help_text="AMA PRA Category 1 credits")
    creditId = _value(
        CreditIdValue,
        required=False,
        help_text="Your idempotency key: ccid:<your system>:<your ID>, e.g. ccid:mylms:42. "
        "Without one, the portal mints one (ccid:pars:…), returned with the record.",
    )


class ReportSerializer(StrictSerializer):
    action = _value(required=False, default="add", help_text="add or delete")
    activityId = _value(required=False, help_text="The 9-digit PARS activity ID")
    moduleCode = _value(required=False, help_text="A legacy ABIM module code (until sunset)")
    learner = LearnerSerializer()
    completionDate = _value(DateValue, help_text="YYYY-MM-DD (MM/DD/YYYY is read too)")
    learnerPermission = serializers.BooleanField(default=True)
    credits = CreditSerializer(many=True, allow_empty=False)


class LearnerReportsSerializer(StrictSerializer):
    reports = ReportSerializer(many=True)


class RecordResultSerializer(serializers.Serializer):
    record = serializers.IntegerField(help_text="1-based position of the record in the request")
    result = serializers.ChoiceField(choices=[r.value for r in Result])
    id = serializers.IntegerField(allow_null=True)
    creditId = serializers.CharField(
        allow_null=True, help_text="The record's credit ID (yours, or the one the portal minted)"
    )
    status = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    warning = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    errors = serializers.DictField(
        child=serializers.CharField(),
        help_text="{field: reason}, fields named as in the request (birthMonth, points; "
        "BirthDate, numberOfCredits for learner report documents); __all__ for the record.",
    )


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
    points = serializers.DecimalField(
        source="moc_points", max_digits=6, decimal_places=2, coerce_to_string=False
    )
    cmeCredits = serializers.DecimalField(
        source="cme_credits", max_digits=6, decimal_places=2, allow_null=True,
        coerce_to_string=False,
    )  # fmt: skip
    creditId = serializers.CharField(source="credit_id")
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
    points = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    creditTypes = serializers.ListField(child=serializers.CharField())


class ActivitySerializer(serializers.ModelSerializer):
    activityId = serializers.CharField(source="pars_id")
    providerActivityId = serializers.CharField(source="provider_activity_id")
    activityType = serializers.CharField(source="get_activity_type_display")
    startDate = serializers.DateField(source="start_date")
    endDate = serializers.DateField(source="end_date")
    reportingYear = serializers.IntegerField(source="reporting_year")
    cmeCredits = serializers.DecimalField(
        source="cme_credits", max_digits=6, decimal_places=2, coerce_to_string=False
    )
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
            "points": registration.moc_points,
            "creditTypes": sorted(ct.code for ct in registration.credit_types.all()),
        }


# --- Learner reports: the portal's JSON, ACCME's JSON, XML --------------------------------------


def board_id_lengths():
    return {b.code: b.board_id_length for b in Board.objects.all()}


# Per-record errors name fields as the request does.
JSON_FIELD_NAMES = {
    "action": "action", "activity": "activityId", "board": "board", "learner_id": "boardId",
    "first_name": "firstName", "last_name": "lastName", "birth_month": "birthMonth",
    "birth_day": "birthDay", "completion_date": "completionDate", "credit_type": "creditType",
    "moc_points": "points", "cme_credits": "cmeCredits",
    "learner_permission": "learnerPermission", "credit_id": "creditId",
}  # fmt: skip
# Where each field sits in an ActivityReport of ACCME's JSON document (pars-spec §9).
_CERTIFICATE = "Activity/Module/CreditCertificate[{certificate}]"
ACCME_PATHS = {
    "action": "XtensibleInfo/LearnerRecordAction",
    "activity": "Activity/Module/ModuleName/moduleID",
    "board": _CERTIFICATE + "/UniqueID/domain",
    "learner_id": _CERTIFICATE + "/UniqueID/value",
    "first_name": "Member/Name/GivenName",
    "last_name": "Member/Name/FamilyName",
    "birth_month": "Member/PersonalInfo/BirthDate",
    "birth_day": "Member/PersonalInfo/BirthDate",
    "completion_date": "Activity/Module/CompletedDateTime",
    "status": "Activity/Module/Status",
    "credit_type": _CERTIFICATE + "/CreditReceived/activityCertification",
    "credit_unit": _CERTIFICATE + "/CreditReceived/creditUnit",
    "moc_points": _CERTIFICATE + "/CreditReceived/numberOfCredits",
    "cme_credits": "XtensibleInfo/CMECredits",
    "learner_permission": "XtensibleInfo/LearnerPermission",
    "credit_id": _CERTIFICATE + "/CreditID",
}
REPORT_PATH = "ACCMELearnerReports/ActivityReports/ActivityReport[{report}]"


def accme_path(field: str, report: int, certificate: int) -> str:
    where = REPORT_PATH.format(report=report)
    inner = ACCME_PATHS.get(field)
    return f"{where}/{inner.format(certificate=certificate)}" if inner else where


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


def accme_rows(data, key, id_lengths) -> list:
    """ACCME's JSON learner report as rows; each row's `source` is (report index,
    certificate index) for error paths. Shape problems are a 400 naming every member."""
    try:
        rows = parse_accme_json(data, provider_id=key.provider.accme_id, id_lengths=id_lengths)
    except ReportShapeError as error:
        items = [error_item(path, message, report) for report, path, message in error.problems]
        raise ReportInvalid(items) from None
    except FileRefused as error:
        raise ReportInvalid([error_item("", str(error))], str(error)) from None
    report, certificate, previous = -1, 0, None
    for row in rows:
        if row.source is not previous:  # the rows of one report share its source
            report, certificate, previous = report + 1, 0, row.source
        else:
            certificate += 1
        row.source = (report, certificate)
    return rows


def _rows_of_request(request, key, id_lengths) -> tuple[list, str]:
    """The request's records as rows, and which form they came in ("xml", "accme", "json")."""
    data = request.data
    if isinstance(data, bytes):
        try:
            rows = parse_xml(io.BytesIO(data), provider_id=key.provider.accme_id,
                             id_lengths=id_lengths)  # fmt: skip
            return list(rows), "xml"
        except FileRefused as error:
            raise exceptions.ParseError(str(error)) from None
    if isinstance(data, dict) and "ACCMELearnerReports" in data:
        return accme_rows(data, key, id_lengths), "accme"
    serializer = LearnerReportsSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return list(_rows_from_json(serializer.validated_data, id_lengths)), "json"


def check_record_count(rows):
    limit = settings.API_MAX_RECORDS
    if not rows:
        raise exceptions.ParseError(NO_RECORDS)
    if len(rows) > limit:
        raise exceptions.ParseError(TOO_MANY_RECORDS.format(limit=limit, count=len(rows)))


def refuse_when_roster_limit_reached(key):
    """Past its provider's limit of failed roster checks, a key's request is refused whole:
    429 with Retry-After (sandbox keys check a sandbox roster and have no limit)."""
    if key.is_sandbox:
        return None
    guard = RosterGuard(key.provider_id)
    if guard.exhausted:
        wait = max(1, int((guard.frees_up_at() - guard.now).total_seconds()))
        raise exceptions.Throttled(wait=wait, detail=guard.refusal())
    return guard


def submit_rows(key, rows, **kwargs):
    refuse_when_roster_limit_reached(key)
    result = intake_submit(
        provider=key.provider,
        rows=rows,
        actor=key.created_by,
        channel=Channel.API,
        sandbox=key.is_sandbox,
        **kwargs,
    )
    return result


def _credit_ids(outcomes) -> dict[int, str]:
    ids = [o.completion_id for o in outcomes if o.completion_id]
    return dict(Completion.objects.filter(pk__in=ids).values_list("pk", "credit_id"))


class LearnerReportsView(APIView):
    parser_classes = [JSONBodyParser, XMLBodyParser, TextXMLBodyParser]
    throttle_classes = [KeyRateThrottle]

    @extend_schema(
        operation_id="submit_learner_reports",
        summary="Submit learner reports (the portal's JSON, ACCME's JSON, or XML)",
        description=(
            "Up to 10,000 records per request: the portal's JSON (below), or ACCME's "
            'learner report document (`{"ACCMELearnerReports": …}`, drafts v0.4/v0.5; '
            "documented under POST /learner-activities). The XML learner report goes to "
            "POST /learner-reports/xml (this path reads it too). One result per record, in "
            "order: `created`, `already_reported` (an idempotent retry: same credit ID or "
            "same learner, activity, credit type and date), `deleted`, or `error` with the "
            "field and reason; the valid records are stored. A body that cannot be read gets "
            "400 and nothing is saved."
        ),
        # One content type per documented operation: clients generated from the schema
        # (openapi-python-client 0.29) break on a required body offered in several types.
        request={"application/json": LearnerReportsSerializer},
        responses={200: SubmitResponseSerializer, **error_responses(*WITH_BODY, *AUTHENTICATED)},
    )
    def post(self, request):
        key = request.auth
        rows, form = _rows_of_request(request, key, board_id_lengths())
        check_record_count(rows)
        result = submit_rows(key, rows)
        names = JSON_FIELD_NAMES if form == "json" else XML_FIELD_LABELS
        credit_ids = _credit_ids(result.outcomes)
        return Response(
            {
                "sandbox": key.is_sandbox,
                "totals": result.totals,
                "results": [
                    {
                        "record": number,
                        "result": o.result.value,
                        "id": o.completion_id,
                        "creditId": credit_ids.get(o.completion_id),
                        "status": o.status,
                        "reason": o.reason,
                        "warning": o.warning,
                        "message": o.message,
                        "errors": {names.get(f, f): m for f, m in o.errors.items()},
                    }
                    for number, o in enumerate(result.outcomes, start=1)
                ],
            }
        )


class LearnerReportsXmlView(LearnerReportsView):
    parser_classes = [XMLBodyParser, TextXMLBodyParser]

    @extend_schema(
        operation_id="submit_learner_reports_xml",
        summary="Submit an XML learner report",
        description=(
            "The XML learner report (pars-spec §8.1; the sample under Uploads → Templates), "
            "as the body with `Content-Type: application/xml`: the same reader as file "
            "uploads, then the same answer as POST /learner-reports, one result per "
            "CreditCertificate. Error fields are named by the XML's elements."
        ),
        request={"application/xml": OpenApiTypes.BINARY},
        responses={200: SubmitResponseSerializer, **error_responses(*WITH_BODY, *AUTHENTICATED)},
    )
    def post(self, request):
        return super().post(request)


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def key_completions(request):
    return api_scope(
        Completion.objects.select_related("activity", "board", "credit_type"), request.auth
    )


class CompletionList(generics.ListAPIView):
    queryset = Completion.objects.none()  # the model, for the schema; get_queryset() scopes
    serializer_class = CompletionSerializer
    pagination_class = Pagination
    throttle_classes = [KeyRateThrottle]
    filter_backends = [ApiFilterBackend]
    filterset_class = CompletionApiFilter

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "deadlines": deadline_table()}

    @extend_schema(
        summary="List participant records (for LMS polling)",
        responses={200: CompletionSerializer(many=True), **error_responses(400, *AUTHENTICATED)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return key_completions(self.request).order_by("status_changed_at", "id")


DEFAULT_DELETE_REASON = "Deleted through the web service"
REASON_PARAMETER = OpenApiParameter(
    "reason",
    str,
    description="Why the record is withdrawn (kept in its history). A JSON body "
    '`{"reason": "…"}` is read too.',
)


class DeleteSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, max_length=300)


def delete_reason(request, default: str) -> str:
    body = request.data if isinstance(request.data, dict) else {}
    data = DeleteSerializer(data=body)
    data.is_valid(raise_exception=True)
    reason = request.query_params.get("reason") or data.validated_data.get("reason") or default
    if len(reason) > 300:
        raise exceptions.ValidationError({"reason": ["At most 300 characters."]})
    return reason


class CompletionDetail(APIView):
    throttle_classes = [KeyRateThrottle]
    parser_classes = [JSONBodyParser]

    @extend_schema(
        summary="One participant record",
        responses={200: CompletionSerializer, **error_responses(404, *AUTHENTICATED)},
    )
    def get(self, request, pk):
        return Response(
            CompletionSerializer(get_object_or_404(key_completions(request), pk=pk)).data
        )

    @extend_schema(
        summary="Delete (withdraw) a record; it is kept as deleted, with the reason",
        parameters=[REASON_PARAMETER],
        responses={
            200: CompletionSerializer,
            **error_responses(400, 404, 409, 413, 415, *AUTHENTICATED),
        },
    )
    def delete(self, request, pk):
        completion = get_object_or_404(key_completions(request), pk=pk)
        reason = delete_reason(request, DEFAULT_DELETE_REASON)
        try:
            completion_delete(
                completion=completion,
                actor=request.auth.created_by,
                reason=reason,
                channel=Channel.API,
            )
        except ValidationError as error:
            return Response(error_body(error.messages[0]), status=status.HTTP_409_CONFLICT)
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
        responses={200: StatusSerializer(many=True), **error_responses(400, 404, *AUTHENTICATED)},
    )
    def get(self, request):
        params = request.query_params
        records = key_completions(request).exclude(status=Completion.Status.DELETED)
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
    parser_classes = [JSONBodyParser]

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
            ),
            **error_responses(*WITH_BODY, *AUTHENTICATED),
        },
    )  # fmt: skip
    def post(self, request):
        data = LearnerMatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        board = Board.objects.filter(code=values["board"].upper()).first()
        if board is None:
            raise exceptions.ParseError(f"Unknown board {values['board']!r}.")
        guard = refuse_when_roster_limit_reached(request.auth)
        candidate = Candidate(
            board_id=board.pk,
            board_code=board.code,
            learner_id=values["boardId"].strip(),
            first_name=values["firstName"],
            last_name=values["lastName"],
            birth_month=values["birthMonth"],
            birth_day=values["birthDay"],
        )
        verdict = get_verifier(sandbox=request.auth.is_sandbox).verify([candidate])[0]
        if guard is not None and not guard.screen([candidate], [verdict])[0]:
            raise exceptions.Throttled(detail=guard.refusal())
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


@extend_schema(
    summary="Your activities with their MOC registration",
    responses={200: ActivitySerializer(many=True), **error_responses(400, *AUTHENTICATED)},
)
class ActivityList(generics.ListAPIView):
    serializer_class = ActivitySerializer
    pagination_class = Pagination
    throttle_classes = [KeyRateThrottle]

    def get_queryset(self):
        return _activities(self.request).order_by("-reporting_year", "pars_id")


@extend_schema(
    summary="One of your activities",
    responses={200: ActivitySerializer, **error_responses(404, *AUTHENTICATED)},
)
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
    """The request bodies refuse unknown fields and empty lists, and every operation that
    takes a body needs one: say so in the schema."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    schemas = result.get("components", {}).get("schemas", {})
    for name in STRICT_REQUESTS & schemas.keys():
        schemas[name]["additionalProperties"] = False
    for name, field in NON_EMPTY_LISTS:
        if name in schemas:
            schemas[name]["properties"][field]["minItems"] = 1
    return result
