"""ACCME's Learner Activity API (draft; pars-spec §9), under /api/v1/learner-activities.

The draft's four operations, with its paths, parameter names, status codes and documents,
through the same keys, scoping and intake pipeline as the portal's own API (`api.py`).
"""

import contextlib
import json
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from activities.models import Board, Channel

from .api import (
    JSON_NOT_A_REPORT,
    accme_path,
    accme_rows,
    board_id_lengths,
    check_record_count,
    delete_reason,
    key_completions,
    submit_rows,
)
from .apibase import (
    AUTHENTICATED,
    WITH_BODY,
    JSONBodyParser,
    ReportInvalid,
    error_item,
    error_responses,
)
from .apikeys import KeyRateThrottle
from .exports import birth_date_text, completed_text, document_data, record_data, record_extra
from .models import Completion
from .parsers import read_birth_date, read_date, read_padded_id
from .rows import Result
from .services.records import completion_delete

# The draft's four operations, with its paths, parameter names, status codes and documents.
# Where it is silent, decided here (and in the README): the API keys apply; a learner is
# identified by the board ID of `domain` (default ABIM); a POST is stored whole or not at
# all; XtensibleInfo carries the portal's facts about each record (RecordID, RecordStatus,
# StatusReason, Warning, Outcome); `Status` stays the draft's `Completed`.

ACCME_DOCUMENT = {"$ref": "#/components/schemas/AccmeLearnerReports"}
ACCME_DOCUMENT_IN = {"$ref": "#/components/schemas/AccmeInLearnerReports"}
LEARNER_NOT_FOUND = "No current record of learner {learner} ({board}) for this key."
STATUS_NOT_FOUND = "No current record matches."
STATUS_PARAMETERS_MISSING = (
    "Give CreditId, or moduleID, BirthDate, CompletionDate and UniqueID; missing: {missing}."
)
DRAFT_DELETE_REASON = "Deleted through the Learner Activity API"
DOMAIN_PARAMETER = OpenApiParameter(
    "domain", str, description="The board whose ID learnerId is (default ABIM)."
)


def _board(request) -> Board:
    code = (request.query_params.get("domain") or "ABIM").strip().upper()
    board = Board.objects.filter(code=code).first()
    if board is None:
        raise exceptions.ValidationError({"domain": [f"Unknown board {code!r}."]})
    return board


def _learner_records(request, learner_id: str, board: Board):
    try:
        learner = read_padded_id(learner_id, board.board_id_length)
    except ValueError:
        learner = learner_id
    records = (
        key_completions(request)
        .select_related("provider")
        .filter(board=board, learner_id=learner)
        .exclude(status=Completion.Status.DELETED)
        .order_by("completion_date", "id")
    )
    return records, learner


def _document(pairs) -> dict:
    """(record, outcome or None) pairs as ACCME's learner report document."""
    return document_data(
        [
            record_data(c, extra={**record_extra(c), "Outcome": o.result.value} if o else None)
            for c, o in pairs
        ]
    )


class LearnerActivities(APIView):
    parser_classes = [JSONBodyParser]
    throttle_classes = [KeyRateThrottle]

    @extend_schema(
        operation_id="saveLearnerActivity",
        tags=["Learner Activity API (ACCME draft)"],
        summary="Save a learner activity report (ACCME's document)",
        description=(
            "ACCME's learner report document (drafts v0.4 and v0.5; REMS blocks are "
            "ignored). Stored whole or not at all: if any report has an error, the answer is "
            "400 with every problem (report index and member path) and nothing is stored. "
            "201 answers the document of the records, in request order, each with its "
            "RecordID, RecordStatus (accepted, or rejected with StatusReason) and Outcome "
            "(created, already_reported, deleted) in XtensibleInfo. Sending it again is "
            "safe: every report comes back already_reported."
        ),
        request={"application/json": ACCME_DOCUMENT_IN},
        responses={
            201: OpenApiResponse(ACCME_DOCUMENT, description="Saved (or already saved)."),
            **error_responses(*WITH_BODY, *AUTHENTICATED),
        },
    )
    def post(self, request):
        key = request.auth
        if not isinstance(request.data, dict) or "ACCMELearnerReports" not in request.data:
            raise ReportInvalid([error_item("", JSON_NOT_A_REPORT)], JSON_NOT_A_REPORT)
        rows = accme_rows(request.data, key, board_id_lengths())
        check_record_count(rows)
        result = submit_rows(key, rows, all_or_nothing=True)
        problems = [
            error_item(accme_path(field, *o.row.source), message, o.row.source[0])
            for o in result.outcomes
            if o.result == Result.ERROR
            for field, message in o.errors.items()
        ]
        if problems:
            raise ReportInvalid(problems)
        records = Completion.objects.select_related(
            "provider", "activity", "board", "credit_type"
        ).in_bulk([o.completion_id for o in result.outcomes])
        pairs = [(records[o.completion_id], o) for o in result.outcomes]
        return Response(_document(pairs), status=status.HTTP_201_CREATED)


class LearnerActivity(APIView):
    throttle_classes = [KeyRateThrottle]
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="getLearnerActivity",
        tags=["Learner Activity API (ACCME draft)"],
        summary="A learner's current records, as ACCME's document",
        description="Every current (not deleted) record of this learner reported by the "
        "key's provider (a sandbox key: its sandbox records).",
        parameters=[DOMAIN_PARAMETER],
        responses={200: OpenApiResponse(ACCME_DOCUMENT), **error_responses(400, 404, 401, 429)},
    )
    def get(self, request, learnerId):  # noqa: N803 - the draft's parameter name
        board = _board(request)
        records, learner = _learner_records(request, learnerId, board)
        found = list(records.select_related("activity", "credit_type"))
        if not found:
            raise exceptions.NotFound(LEARNER_NOT_FOUND.format(learner=learner, board=board.code))
        return Response(_document((c, None) for c in found))

    @extend_schema(
        operation_id="deleteLearnerActivity",
        tags=["Learner Activity API (ACCME draft)"],
        summary="Delete (withdraw) a learner's records",
        description="Withdraws the learner's current records of the key's provider; narrow it "
        "with moduleID, CompletionDate or CreditId. Records are kept as deleted with the "
        "reason, and the board is told if it had them.",
        parameters=[
            DOMAIN_PARAMETER,
            OpenApiParameter("moduleID", str, description="Only this PARS activity ID"),
            OpenApiParameter("CompletionDate", OpenApiTypes.DATE, description="Only this date"),
            OpenApiParameter("CreditId", str, description="Only the record with this credit ID"),
            OpenApiParameter(
                "reason", str, description=f"Kept in the history (default: {DRAFT_DELETE_REASON})"
            ),
        ],
        responses={204: None, **error_responses(400, 404, 401, 429)},
    )
    def delete(self, request, learnerId):  # noqa: N803 - the draft's parameter name
        board = _board(request)
        records, learner = _learner_records(request, learnerId, board)
        params = request.query_params
        if module := params.get("moduleID", "").strip():
            records = records.filter(activity__pars_id=module.zfill(9))
        if credit_id := (params.get("CreditId") or params.get("CreditID") or "").strip():
            records = records.filter(credit_id=credit_id)
        if completed := params.get("CompletionDate", "").strip():
            try:
                records = records.filter(completion_date=read_date(completed))
            except ValueError as error:
                raise exceptions.ValidationError({"CompletionDate": [str(error)]}) from None
        reason = delete_reason(request, DRAFT_DELETE_REASON)
        found = list(records)
        if not found:
            raise exceptions.NotFound(LEARNER_NOT_FOUND.format(learner=learner, board=board.code))
        for completion in found:
            # Deleted meanwhile by someone else: it is deleted, as asked.
            with contextlib.suppress(ValidationError):
                completion_delete(
                    completion=completion, actor=request.auth.created_by, reason=reason,
                    channel=Channel.API,
                )  # fmt: skip
        return Response(status=status.HTTP_204_NO_CONTENT)


class UniqueIdSerializer(serializers.Serializer):
    value = serializers.CharField()
    domain = serializers.CharField()


class LearnerStatusSerializer(serializers.Serializer):
    moduleID = serializers.CharField(help_text="The PARS activity ID")
    BirthDate = serializers.CharField(help_text="YYYY-MM-DD; the year is the placeholder 1904")
    CompletedDateTime = serializers.CharField(help_text="YYYY-MM-DDT00:00:00")
    CreditID = serializers.CharField()
    UniqueID = UniqueIdSerializer(many=True)
    Status = serializers.ChoiceField(
        choices=["Completed"], help_text="The draft's module status (always Completed)"
    )
    RecordID = serializers.IntegerField(help_text="The portal's record ID")
    RecordStatus = serializers.ChoiceField(
        choices=["submitted", "accepted", "rejected"], help_text="Where the record stands"
    )
    StatusReason = serializers.CharField(allow_blank=True)
    StatusChangedAt = serializers.DateTimeField()


class LearnerActivityStatus(APIView):
    throttle_classes = [KeyRateThrottle]

    @extend_schema(
        operation_id="getLearnerStatus",
        tags=["Learner Activity API (ACCME draft)"],
        summary="The status of a learner's records",
        description="Approach A: moduleID, BirthDate (YYYY-MM-DD or MM-DD), CompletionDate "
        "and UniqueID; approach B: CreditId. One item per current record (one per credit "
        "type).",
        parameters=[
            OpenApiParameter("moduleID", str, description="The PARS activity ID"),
            OpenApiParameter("BirthDate", str, description="YYYY-MM-DD (year ignored) or MM-DD"),
            OpenApiParameter("CompletionDate", OpenApiTypes.DATE),
            OpenApiParameter("UniqueID", str, description="The learner's board ID"),
            OpenApiParameter("CreditId", str, description="A record's credit ID"),
            DOMAIN_PARAMETER,
        ],
        responses={
            200: LearnerStatusSerializer(many=True),
            **error_responses(400, 404, 401, 429),
        },
    )
    def get(self, request):
        params = request.query_params
        records = (
            key_completions(request)
            .exclude(status=Completion.Status.DELETED)
            .order_by("credit_type__code", "id")
        )
        if credit_id := (params.get("CreditId") or params.get("CreditID") or "").strip():
            records = records.filter(credit_id=credit_id)
        else:
            needed = ["moduleID", "BirthDate", "CompletionDate", "UniqueID"]
            missing = [n for n in needed if not params.get(n, "").strip()]
            if missing:
                detail = STATUS_PARAMETERS_MISSING.format(missing=", ".join(missing))
                raise ReportInvalid([error_item(n, "is required") for n in missing], detail)
            board = _board(request)
            errors = {}
            try:
                month, day = read_birth_date(params["BirthDate"])
            except ValueError as error:
                errors["BirthDate"] = [str(error)]
            try:
                date = read_date(params["CompletionDate"])
            except ValueError as error:
                errors["CompletionDate"] = [str(error)]
            if errors:
                raise exceptions.ValidationError(errors)
            _, learner = _learner_records(request, params["UniqueID"].strip(), board)
            records = records.filter(
                activity__pars_id=params["moduleID"].strip().zfill(9),
                board=board,
                learner_id=learner,
                birth_month=month,
                birth_day=day,
                completion_date=date,
            )
        found = [
            {
                "moduleID": c.activity.pars_id,
                "BirthDate": birth_date_text(c.birth_month, c.birth_day),
                "CompletedDateTime": completed_text(c.completion_date),
                "CreditID": c.credit_id,
                "UniqueID": [{"value": c.learner_id, "domain": c.board.code}],
                "Status": "Completed",
                "RecordID": c.pk,
                "RecordStatus": c.status,
                "StatusReason": c.status_reason,
                "StatusChangedAt": c.status_changed_at,
            }
            for c in records.select_related("activity", "board")
        ]
        if not found:
            raise exceptions.NotFound(STATUS_NOT_FOUND)
        return Response(LearnerStatusSerializer(found, many=True).data)


# --- The OpenAPI schemas ------------------------------------------------------------------------

SCHEMA_FILE = Path(__file__).parent / "schemas" / "learner-reports.schema.json"
ACCME_COMPONENT_PREFIX = "Accme"


@cache
def learner_report_schema() -> dict:
    """The project's JSON Schema of pars-spec §9 (what the portal writes)."""
    return json.loads(SCHEMA_FILE.read_text())


def _as_components(schema: dict, prefix: str) -> dict:
    """A JSON Schema with $defs as OpenAPI components (its $defs renamed with `prefix`)."""
    text = json.dumps(schema).replace('"#/$defs/', f'"#/components/schemas/{prefix}')
    schema = json.loads(text)
    components = {prefix + k: v for k, v in schema.pop("$defs").items()}
    for meta in ("$schema", "$id", "title"):  # generated clients name classes by title
        schema.pop(meta, None)
    components[prefix + "LearnerReports"] = schema
    return components


# What the portal writes ties what clients may send only loosely (pars-spec §9: "be strict
# in what you send, liberal in what you accept"): the request is documented as read.
_ANSWERED_ONLY = ("RecordID", "RecordStatus", "StatusReason", "Warning", "Outcome")


def reading_schema() -> dict:
    """The learner report as the portal reads it: no credit ID or birth date required (a
    missing birth date is a per-record error), dates and IDs in the forms §8.4 reads, and
    UniqueID as one object or a list of them (the drafts disagree)."""
    schema = json.loads(json.dumps(learner_report_schema()))
    defs = schema["$defs"]
    member = defs["Member"]
    member["required"] = ["Name"]
    personal = member["properties"]["PersonalInfo"]
    personal.pop("required")
    birth = personal["properties"]["BirthDate"]
    birth.pop("pattern")
    birth["description"] = "YYYY-MM-DD (the year is ignored), --MM-DD or MM-DD."
    module = defs["Module"]["properties"]
    module["CompletedDateTime"].pop("pattern")
    module["CompletedDateTime"]["description"] = "YYYY-MM-DD, with an optional T-time (ignored)."
    module["ModuleName"]["properties"]["moduleID"].pop("pattern")
    defs["Activity"]["properties"]["ProviderOrganization"].pop("pattern")
    certificate = defs["CreditCertificate"]
    certificate["required"] = ["UniqueID", "CreditReceived"]
    certificate["properties"]["CreditID"]["description"] = (
        "Optional; when sent it must have the form ccid:<your system>:<your ID>. Without it, "
        "the portal mints one (ccid:pars:…) and answers it."
    )
    one = certificate["properties"]["UniqueID"]
    defs["UniqueID"] = one
    either = {"oneOf": [{"$ref": "#/$defs/UniqueID"},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/UniqueID"}}],
              "description": "The learner's IDs: the one whose domain is a board (ABIM) is "
              "used; an NPI or a state licence beside it is ignored."}  # fmt: skip
    certificate["properties"]["UniqueID"] = either
    member["properties"]["UniqueID"] = either
    info = defs["XtensibleInfo"]["properties"]
    for name in _ANSWERED_ONLY:
        info.pop(name)
    return schema


def _accme_components() -> dict:
    """The learner report twice: as the portal writes it (Accme…, in answers) and as it reads
    it (AccmeIn…, in requests)."""
    return {
        **_as_components(learner_report_schema(), ACCME_COMPONENT_PREFIX),
        **_as_components(reading_schema(), ACCME_COMPONENT_PREFIX + "In"),
    }


def learner_report_components(result, generator, request, public):
    """Add ACCME's learner report document, which the Learner Activity API operations use,
    to the schema's components."""
    if "/api/v1/learner-activities" in result.get("paths", {}):
        result.setdefault("components", {}).setdefault("schemas", {}).update(_accme_components())
    return result
