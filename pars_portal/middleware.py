"""Answers for expected failures that no single view should handle on its own."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseBadRequest, JsonResponse
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


NUL_REFUSED = "A NUL character (%00) is not allowed in an address or its parameters."


class RefuseNulMiddleware:
    """A NUL byte in the path or a query parameter can reach no page, filter or record (and
    PostgreSQL refuses it in any query): answer 400 at once, JSON under the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_REFUSED, "errors": []}, status=400)
            return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# Scripts only from the portal itself (no inline script anywhere); inline style attributes
# are allowed (Bootstrap's components use them).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])  # fmt: skip
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()" for feature in ("camera", "microphone", "geolocation", "payment", "usb",
                                    "interest-cohort")
)  # fmt: skip


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class MethodNotAllowedPage:
    """Opening an action's address (POST only) in the browser shows a page in the portal's
    layout that says what to do, instead of a blank 405."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.method == "GET"
            and not request.path.startswith(("/api/v1/", "/admin/"))  # JSON and admin: theirs
            and not response.content
        ):
            page = render(request, "405.html", status=405)
            page["Allow"] = response.get("Allow", "POST")
            return page
        return response
