"""What every web service shares, kept apart from the views: DRF imports its setting classes
(the body parsers, the exception handler) while its own views module is still loading.

Every error answer has one shape, `{"detail": "…", "errors": [{"path", "message",
"report"}]}`, documented once (`ErrorSerializer`) and produced once (`exception_handler`).
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

JSON_TOO_DEEP = "JSON parse error - the document is nested too deeply."


class JSONBodyParser(parsers.JSONParser):
    """DRF's JSON parser, with deeply nested documents refused as a 400 like any other
    unreadable body (Python's decoder gives up with RecursionError)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(JSON_TOO_DEEP) from None


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


# --- Errors: one shape for every error answer ----------------------------------------------


class ErrorItemSerializer(serializers.Serializer):
    path = serializers.CharField(
        help_text="Where in the request: members separated by /, list items as [index] "
        "(e.g. reports[0]/learner/boardId, or ACCMELearnerReports/ActivityReports/"
        "ActivityReport[2]/Member/Name/GivenName); a query parameter's name; '' for the "
        "request as a whole."
    )
    message = serializers.CharField()
    report = serializers.IntegerField(
        allow_null=True,
        help_text="For learner report documents: the index (from 0) of the ActivityReport.",
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = ErrorItemSerializer(many=True, help_text="Each problem found; may be empty.")


ERROR_DESCRIPTIONS = {
    400: "The request cannot be used; nothing of it was stored.",
    401: "No API key, or an invalid or revoked one.",
    404: "Not found among this key's provider's records (a sandbox key sees only sandbox "
    "records, a production key only production ones).",
    409: "The record cannot be changed in this way (e.g. it is already deleted).",
    413: "The request body is over the size limit (API_MAX_BODY_MB); nothing was stored.",
    415: "Unsupported Content-Type.",
    429: "Too many requests for this key (or this provider); see Retry-After.",
}


def error_responses(*codes: int) -> dict:
    """Documented error answers, all of one schema."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


AUTHENTICATED = (401, 429)  # every operation with a key: authentication and throttling
WITH_BODY = (400, 413, 415)


def error_body(detail: str, errors=()) -> dict:
    return {"detail": str(detail), "errors": list(errors)}


def error_item(path: str, message: str, report: int | None = None) -> dict:
    return {"path": path, "message": str(message), "report": report}


def _flatten(data, path=""):
    """DRF's nested validation errors as (path, message) items."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                yield from _flatten(value, path)
            else:
                child = f"{path}[{key}]" if str(key).isdigit() else f"{path}/{key}".lstrip("/")
                yield from _flatten(value, child)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if isinstance(value, dict | list):
                yield from _flatten(value, f"{path}[{index}]")
            else:
                yield error_item(path, value)
    else:
        yield error_item(path, data)


class ReportInvalid(exceptions.APIException):
    """A learner report the portal refuses whole, with every problem found."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The learner report cannot be used; nothing of it was stored."

    def __init__(self, items, detail=None):
        self.items = items
        super().__init__(detail or self.default_detail)


def exception_handler(exc, context):
    """DRF's answers for errors, reshaped into the one error body."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ReportInvalid):
        response.data = error_body(exc.detail, exc.items)
    elif isinstance(exc, exceptions.ValidationError):
        items = list(_flatten(response.data))
        first = items[0] if items else error_item("", "invalid")
        where = f"{first['path']}: " if first["path"] else ""
        response.data = error_body(f"The request is not valid: {where}{first['message']}", items)
    else:
        data = response.data
        detail = data.get("detail", data) if isinstance(data, dict) else data
        response.data = error_body(detail)
    return response
