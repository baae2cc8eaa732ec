"""Answers for expected failures that no single view should handle on its own."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import render

from participants.intake import IntakeContention

RETRY_AFTER_SECONDS = "2"


class IntakeContentionMiddleware:
    """An API body over the size limit gets a JSON 413 that says the limit. When other
    submissions keep winning the race for the same records, the pipeline gives up without
    saving anything (`IntakeContention`): say so with a 503 and Retry-After — JSON for the
    API, a page for people — instead of a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
            # Django's default is an HTML 400 page; an LMS needs to be told what to do.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024
            detail = (
                f"Request body too large: the limit is {limit:g} MB. Nothing was stored; send "
                "the records in several smaller reports."
            )
            return JsonResponse({"detail": detail, "errors": []}, status=413)
        if not isinstance(exception, IntakeContention):
            return None
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": str(exception), "errors": []}, status=503)
        else:
            response = render(request, "503.html", {"message": str(exception)}, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
