"""The filters of the participant record lists (django-filter): one FilterSet per list, used
by its page, its export and its API alike. Query parameter names are part of the contract:
the dashboards link to these lists with them."""

import datetime as dt
from urllib.parse import urlencode

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from activities.deadlines import parse_year
from activities.forms import DateInput
from activities.models import Activity, Channel
from activities.selectors import registered_for_moc

from .models import Completion, name_key
from .parsers import read_date
from .selectors import activity_has_records, awaiting_board, board_confirmed, late_records

CURRENT = "current"  # status filter: any status but deleted (the default; kept for old links)
ALL = "all"  # status filter: every record, deleted and superseded ones included
LATE = "late"
WAITING = "waiting"
CONFIRMED = "confirmed"
NO_REASON = "-"  # reason filter: records with no reason recorded
WARNED = "1"  # warning filter: records with a name warning
ROW_ID = {"min_value": 1, "max_value": 2**63 - 1}  # a database id: anything else matches nothing
FULL_ID_LENGTH = 6  # an ABIM ID; a shorter value is the beginning of one
_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # in this order in C and ICU/glibc


def prefix_match(field: str, prefix: str) -> Q:
    """Values of `field` that start with `prefix`. For keys made of digits and capital
    letters this is also a range, [prefix, next prefix), which a B-tree index serves on
    both databases (SQLite's case-insensitive LIKE cannot use one)."""
    match = Q(**{f"{field}__startswith": prefix})
    if not prefix or any(c not in _KEY_ALPHABET for c in prefix):
        return match
    bound = prefix.rstrip(_KEY_ALPHABET[-1])
    if not bound:  # "ZZ": everything from the prefix on
        return match & Q(**{f"{field}__gte": prefix})
    following = _KEY_ALPHABET[_KEY_ALPHABET.index(bound[-1]) + 1]
    return match & Q(**{f"{field}__gte": prefix, f"{field}__lt": bound[:-1] + following})


# --- Participant records: the search page and its export ---------------------------------------


class RecordFilterForm(forms.Form):
    """The search form's own behaviour; its fields are the filters of RecordFilter."""

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and data.get("status") == CURRENT:  # the default, by its old name
            data = data.copy()
            data["status"] = ""
        super().__init__(data, *args, **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error(
                "date_to",
                f"“Completed to” ({end:%m/%d/%Y}) is before “Completed from” "
                f"({start:%m/%d/%Y}): swap them.",
            )
        return data

    # What each hidden filter says in the list of active filters.
    HIDDEN_LABELS = {
        "upload": "From upload {}",
        "batch": "Carried by transmission batch {}",
        "deletion_batch": "Deletions sent in transmission batch {}",
    }

    def active_filters(self) -> list[dict]:
        """Every filter in force, hidden ones included, each with the query string that
        removes it; the default status (deleted records hidden) is one of them, and its
        removal shows every record."""
        if not self.is_bound:
            data = {}
        else:
            self.is_valid()  # dates are shown as read, whatever the order of the calls
            data = {k: v for k, v in self.data.items() if k != "page" and v not in ("", None)}
        chips = []
        for name, value in data.items():
            if name not in self.fields or name == "status":
                continue
            field = self.fields[name]
            if name in self.HIDDEN_LABELS:
                text = self.HIDDEN_LABELS[name].format(value)
            elif isinstance(field, forms.DateField) and getattr(self, "cleaned_data", {}).get(name):
                text = f"{field.label}: {self.cleaned_data[name]:%m/%d/%Y}"
            elif isinstance(field, forms.ChoiceField):
                shown = dict(field.choices).get(value, value)
                text = f"{field.label or name.replace('_', ' ').capitalize()}: {shown}"
            else:
                text = f"{field.label or name.replace('_', ' ').capitalize()}: {value}"
            chips.append({"name": name, "text": text, "remove": _without(data, name)})
        status = data.get("status", "")
        if status in ("", CURRENT):
            chips.append({"name": "status", "text": "Deleted and superseded records hidden",
                          "remove": _without(data, "status", status=ALL),
                          "remove_label": "Show them"})  # fmt: skip
        else:
            shown = dict(self.fields["status"].choices).get(status, status)
            chips.append({"name": "status", "text": f"Status: {shown}",
                          "remove": _without(data, "status")})  # fmt: skip
        return chips


def _without(data: dict, name: str, **changes) -> str:
    query = {k: v for k, v in data.items() if k != name} | changes
    return "?" + urlencode(query) if query else "?"


class StatusFilter(filters.ChoiceFilter):
    """No status (the default): every status but deleted; ALL: every record."""

    def filter(self, qs, value):
        if not value:
            return qs.exclude(status=Completion.Status.DELETED)
        if value == ALL:
            return qs
        return qs.filter(status=value)


class RowIdFilter(filters.Filter):
    """A database id (an upload, a transmission batch)."""

    field_class = forms.IntegerField


def _choices(*choices):
    # The first choice is the empty one: no "---------" added before it.
    return {"choices": list(choices), "empty_label": None}


class RecordFilter(filters.FilterSet):
    """Search across the provider's records (all fields optional). The dashboards link
    here, so each of their figures opens the list of exactly the records it counts.
    Deleted (and superseded) records are left out unless a status asks for them; a search
    whose form is invalid lists nothing (the page shows why)."""

    learner_id = filters.CharFilter(
        label="ABIM ID", help_text="The ID or its first digits.", method="filter_learner_id"
    )
    last_name = filters.CharFilter(
        label="Last name",
        help_text="Or its beginning; accents and case do not matter.",
        method="filter_name",
    )
    first_name = filters.CharFilter(
        label="First name", help_text="Or its beginning.", method="filter_name"
    )
    activity = filters.CharFilter(
        label="Activity",
        help_text="PARS activity ID, or words of its title.",
        method="filter_activity",
    )
    date_from = filters.DateFilter(
        "completion_date", "gte", label="Completed from", widget=DateInput()
    )
    date_to = filters.DateFilter("completion_date", "lte", label="Completed to", widget=DateInput())
    status = StatusFilter(
        label="Status",
        **_choices(
            ("", "Any but deleted"), (ALL, "Any, deleted included"), *Completion.Status.choices
        ),
    )
    provider = filters.CharFilter(label="Provider (ACCME ID)", method="filter_provider")
    channel = filters.ChoiceFilter(
        label="Received by", **_choices(("", "Any way"), *Channel.choices)
    )
    late = filters.ChoiceFilter(
        label="Deadline",
        method="filter_late",
        **_choices(("", "Any"), (LATE, "Sent after the deadline")),
    )
    reason = filters.CharFilter(
        label="Reason",
        help_text=f"The exact reason; “{NO_REASON}” for none.",
        method="filter_reason",
    )
    board = filters.ChoiceFilter(
        label="Board",
        method="filter_board",
        **_choices(
            ("", "Any"),
            (WAITING, "Sent, waiting for the board's answer"),
            (CONFIRMED, "Confirmed by the board"),
        ),
    )
    warning = filters.ChoiceFilter(
        label="Name warning",
        method="filter_warning",
        **_choices(("", "Any"), (WARNED, "Name differs from the roster")),
    )
    upload = RowIdFilter("upload", label="Upload", widget=forms.HiddenInput, **ROW_ID)
    batch = RowIdFilter("transmitted_in", label="Batch", widget=forms.HiddenInput, **ROW_ID)
    deletion_batch = RowIdFilter(
        "deletion_transmitted_in", label="Deletion batch", widget=forms.HiddenInput, **ROW_ID
    )

    class Meta:
        form = RecordFilterForm

    def filter_queryset(self, queryset):
        if not self.form.is_valid():
            return queryset.none()
        return super().filter_queryset(queryset)

    def filter_learner_id(self, queryset, name, value):
        learner_id = "".join(value.split())
        if len(learner_id) >= FULL_ID_LENGTH:  # a whole ID: the learner index, exactly
            return queryset.filter(learner_id=learner_id)
        return queryset.filter(prefix_match("learner_id", learner_id))

    def filter_name(self, queryset, name, value):
        key = name_key(value)
        return queryset.filter(prefix_match(f"{name}_key", key)) if key else queryset

    def filter_activity(self, queryset, name, value):
        if value.isdigit():
            return queryset.filter(activity__pars_id=value.zfill(9))
        # The (few) activities first, then their records by the activity index. The
        # records' own scope still applies: other providers' activities match nothing.
        titled = Activity.objects.filter(title__icontains=value)
        return queryset.filter(activity_id__in=list(titled.values_list("pk", flat=True)))

    def filter_provider(self, queryset, name, value):
        return queryset.filter(provider__accme_id=value.zfill(7))

    def filter_late(self, queryset, name, value):
        data = self.form.cleaned_data
        return queryset.filter(late_records(data["date_from"], data["date_to"]))

    def filter_reason(self, queryset, name, value):
        return queryset.filter(status_reason="" if value == NO_REASON else value)

    def filter_board(self, queryset, name, value):
        return queryset.filter(awaiting_board() if value == WAITING else board_confirmed())

    def filter_warning(self, queryset, name, value):
        return queryset.exclude(warning="")


# --- An activity's records, on the activity's page -------------------------------------------


class ActivityRecordFilter(filters.FilterSet):
    """An activity's records by status (CURRENT: any but deleted; a value it does not know is
    ignored), and by an ABIM ID or the letters of a name."""

    status = filters.CharFilter(method="filter_status", strip=False)
    q = filters.CharFilter(method="filter_q")

    def filter_status(self, queryset, name, value):
        if value in Completion.Status.values:
            return queryset.filter(status=value)
        if value == CURRENT:
            return queryset.exclude(status=Completion.Status.DELETED)
        return queryset

    def filter_q(self, queryset, name, value):
        return queryset.filter(
            Q(learner_id=value) | Q(last_name__icontains=value) | Q(first_name__icontains=value)
        )


# --- The reviewers' queue of board rejections ---------------------------------------------------

OPEN = "open"  # the queue's state without one asked for
RESOLVED = "resolved"
ME, NOBODY = "me", "nobody"  # assignee filter
MAX_DAYS = 36_500  # ages past a century mean "all of them" (and stay a valid date)


def _days(value: str) -> int | None:
    if not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), MAX_DAYS)


class FollowUpFilter(filters.FilterSet):
    """Board-rejected records across providers: open ones unless a state is asked for (any
    other state shows every one); ages in days; values the queue does not know are
    ignored. Needs the request (assignee=me)."""

    state = filters.CharFilter(method="filter_state", strip=False)
    provider = filters.CharFilter(method="filter_provider")
    reason = filters.CharFilter("reason", "icontains")
    assignee = filters.CharFilter(method="filter_assignee", strip=False)
    older_than = filters.CharFilter(method="filter_age", strip=False)
    younger_than = filters.CharFilter(method="filter_age", strip=False)

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and "state" not in data:
            data = data.copy()
            data["state"] = OPEN
        super().__init__(data, *args, **kwargs)

    def filter_state(self, queryset, name, value):
        if value == OPEN:
            return queryset.filter(resolution="")
        if value == RESOLVED:
            return queryset.exclude(resolution="")
        return queryset

    def filter_provider(self, queryset, name, value):
        return queryset.filter(completion__provider__accme_id=value.zfill(7))

    def filter_assignee(self, queryset, name, value):
        if value == ME:
            return queryset.filter(assigned_to=self.request.user)
        if value == NOBODY:
            return queryset.filter(assigned_to__isnull=True)
        return queryset

    def filter_age(self, queryset, name, value):
        if (days := _days(value)) is None:
            return queryset
        since = timezone.now() - dt.timedelta(days=days)
        if name == "older_than":
            return queryset.filter(created_at__lt=since)
        return queryset.filter(created_at__gte=since)


# --- The web service's list of records (GET /api/v1/completions) -------------------------------


class DateParameter(forms.Field):
    """A date as the API reads one everywhere: YYYY-MM-DD or MM/DD/YYYY."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return read_date(value)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class DateTimeParameter(forms.Field):
    """A time as the API reads one everywhere (ISO 8601; without an offset, the portal's
    time zone)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return serializers.DateTimeField().to_internal_value(value)
        except serializers.ValidationError as error:
            raise forms.ValidationError(error.detail[0]) from None


class DateParameterFilter(filters.DateFilter):
    field_class = DateParameter


class DateTimeParameterFilter(filters.DateTimeFilter):
    field_class = DateTimeParameter


class CompletionApiFilter(filters.FilterSet):
    """The LMS's polling filters, in the API's own names. The OpenAPI schema documents them
    from here (drf-spectacular reads FilterSets)."""

    activityId = filters.CharFilter(
        method="filter_activity_id", strip=False, help_text="PARS activity ID"
    )
    # Documented with the statuses; another value matches nothing (it is not refused).
    status = extend_schema_field({"type": "string", "enum": Completion.Status.values})(
        filters.CharFilter("status", strip=False)
    )
    boardId = filters.CharFilter(method="filter_board_id", strip=False)
    completionDate = DateParameterFilter("completion_date")
    updatedSince = DateTimeParameterFilter(
        "status_changed_at",
        "gte",
        help_text="Only records whose status changed at or after this time",
    )

    def filter_activity_id(self, queryset, name, value):
        return queryset.filter(activity__pars_id=value.strip().zfill(9))

    def filter_board_id(self, queryset, name, value):
        return queryset.filter(learner_id=value.strip())


class ApiFilterBackend(DjangoFilterBackend):
    """django-filter for the web services: an invalid filter is a 400 in the API's one
    error shape, naming the first problem."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            problem = next(iter(filterset.errors.values()))[0]
            raise exceptions.ParseError(f"Invalid filter: {problem}")
        return filterset.qs


# The activity list. The filters of the activity list (django-filter). Query parameter names are
# part of the contract: the dashboards link to the list with them. A value the list does not know
# (a year that is not four digits, registered=maybe) is ignored, as a typed address may have
# anything.


class ActivityFilter(filters.FilterSet):
    q = filters.CharFilter(method="filter_q")
    year = filters.CharFilter(method="filter_year", strip=False)
    registered = filters.CharFilter(method="filter_registered", strip=False)
    type = filters.CharFilter("activity_type", strip=False)
    provider = filters.CharFilter("provider__accme_id", strip=False)
    participants = filters.CharFilter(method="filter_participants", strip=False)

    def filter_q(self, queryset, name, value):
        """A title's words, a PARS ID (leading zeros optional), the provider's own ID or a
        legacy module code."""
        return queryset.filter(
            Q(title__icontains=value)
            | Q(pars_id=value.zfill(9) if value.isascii() and value.isdigit() else value)
            | Q(provider_activity_id__iexact=value)
            | Q(legacy_module_code__iexact=value)
        )

    def filter_year(self, queryset, name, value):
        year = parse_year(value)
        return queryset if year is None else queryset.filter(reporting_year=year)

    def filter_registered(self, queryset, name, value):
        if value not in ("yes", "no"):
            return queryset
        registered = registered_for_moc()
        return queryset.filter(registered if value == "yes" else ~registered)

    def filter_participants(self, queryset, name, value):
        if value not in ("none", "some"):
            return queryset
        reported = activity_has_records()
        return queryset.filter(reported if value == "some" else ~reported)
