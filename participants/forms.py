import calendar

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from activities.forms import DateInput
from activities.models import Activity, Channel

from .intake import Action, ParticipantRow, Result, intake_submit
from .models import Completion, name_key
from .selectors import awaiting_board, board_confirmed, late_records

MONTHS = [(m, f"{m:02d} – {calendar.month_name[m]}") for m in range(1, 13)]


class ParticipantForm(forms.Form):
    """Manual entry of one participant; the intake pipeline does the checking."""

    learner_id = forms.CharField(label="ABIM ID", max_length=20)
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    birth_month = forms.TypedChoiceField(
        choices=[("", "Month")] + MONTHS, coerce=int, label="Birth month"
    )
    birth_day = forms.IntegerField(label="Birth day", min_value=1, max_value=31)
    # A text field, not the browser's date picker: one tab stop (Chromium's picker takes
    # three), typed as on the sign-in sheet.
    completion_date = forms.DateField(
        widget=forms.DateInput(
            format="%m/%d/%Y",
            attrs={"placeholder": "MM/DD/YYYY", "inputmode": "numeric", "autocomplete": "off"},
        ),
        input_formats=["%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y"],
        help_text="MM/DD/YYYY",
    )
    credit_type = forms.ChoiceField(label="Credit type")
    moc_points = forms.DecimalField(label="MOC points", max_digits=6, decimal_places=2)
    cme_credits = forms.DecimalField(
        label="CME credits", required=False, max_digits=6, decimal_places=2, min_value=0
    )
    learner_permission = forms.BooleanField(
        label="The learner agreed to share this completion with ABIM",
        required=True,
        error_messages={"required": "The learner's permission is required to report."},
        help_text="For a sign-in sheet where every learner agreed: tick it once; it stays "
        "ticked after Save and add another (and is stored with each record). Untick it for a "
        "learner who did not agree.",
    )

    def __init__(self, *args, registration, correcting: Completion | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offered = list(registration.credit_types.all()) if registration else []
        self.fields["credit_type"].choices = [(ct.code, str(ct)) for ct in offered]
        if registration and "moc_points" not in self.initial:
            self.fields["moc_points"].initial = registration.moc_points
            self.fields[
                "moc_points"
            ].help_text = f"Registered maximum: {registration.moc_points.normalize():f}"
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(
                Column("learner_id", css_class="col-md-4"),
                Column("first_name", css_class="col-md-4"),
                Column("last_name", css_class="col-md-4"),
            ),
            Row(
                Column("birth_month", css_class="col-md-4"),
                Column("birth_day", css_class="col-md-2"),
                Column("completion_date", css_class="col-md-3"),
                Column("credit_type", css_class="col-md-3"),
            ),
            Row(
                Column("moc_points", css_class="col-md-3"),
                Column("cme_credits", css_class="col-md-3"),
            ),
            "learner_permission",
        )
        self.helper.form_tag = False
        self.correcting = correcting
        if correcting:  # one record, not a sheet
            self.fields["learner_permission"].help_text = ""

    def to_row(self, activity) -> ParticipantRow:
        data = self.cleaned_data
        return ParticipantRow(
            row_number=0,
            action=Action.ADD,
            activity_ref=activity.pars_id,
            learner_id=data["learner_id"].strip(),
            first_name=data["first_name"],
            last_name=data["last_name"],
            birth_month=data["birth_month"],
            birth_day=data["birth_day"],
            completion_date=data["completion_date"],
            credit_type=data["credit_type"],
            moc_points=data["moc_points"],
            cme_credits=data["cme_credits"],
            learner_permission=data["learner_permission"],
            corrects_id=self.correcting.pk if self.correcting else None,
        )

    def submit(self, activity, actor):
        """Send the entry through the intake pipeline; its refusals become form errors."""
        outcome = intake_submit(
            provider=activity.provider,
            rows=[self.to_row(activity)],
            actor=actor,
            channel=Channel.FORM,
        ).outcomes[0]
        if outcome.result == Result.ALREADY_REPORTED and outcome.completion_id:
            self.add_error(None, _already_reported(outcome))
        elif outcome.result != Result.CREATED:
            self.add_pipeline_errors(outcome.errors, outcome.message)
        return outcome

    def add_pipeline_errors(self, errors: dict[str, str], message: str = ""):
        for field, text in errors.items():
            self.add_error(field if field in self.fields else None, text)
        if message:
            self.add_error(None, message)


def _already_reported(outcome):
    """The pipeline's "already reported", with the record named as a link and the way to
    change it (*Correct*, while the record can still be corrected)."""
    pk = outcome.completion_id
    links = format_html('<a href="{}">Open record {}</a>', reverse("completion_detail", args=[pk]),
                        pk)  # fmt: skip
    if outcome.status != Completion.Status.DELETED:
        correct = reverse("completion_correct", args=[pk])
        links = format_html('{} or <a href="{}">correct it</a>', links, correct)
    return format_html("{} {}.", outcome.message, links)


class LearnerCheckForm(forms.Form):
    """What the entry form's live learner check sends (names only once typed)."""

    learner_id = forms.CharField(max_length=20)
    birth_month = forms.IntegerField(min_value=1, max_value=12)
    birth_day = forms.IntegerField(min_value=1, max_value=31)
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)


class DeleteForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. entered for the wrong activity"}),
        help_text="Kept with the record's history.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("delete", "Delete record", css_class="btn-danger"))


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


class ParticipantFilterForm(forms.Form):
    """Search across the provider's records (all fields optional). The dashboards link
    here, so each of their figures opens the list of exactly the records it counts.
    Deleted (and superseded) records are left out unless a status asks for them."""

    learner_id = forms.CharField(
        label="ABIM ID", required=False, help_text="The ID or its first digits."
    )
    last_name = forms.CharField(
        required=False, help_text="Or its beginning; accents and case do not matter."
    )
    first_name = forms.CharField(required=False, help_text="Or its beginning.")
    activity = forms.CharField(
        label="Activity", required=False, help_text="PARS activity ID, or words of its title."
    )
    date_from = forms.DateField(label="Completed from", required=False, widget=DateInput())
    date_to = forms.DateField(label="Completed to", required=False, widget=DateInput())
    status = forms.ChoiceField(
        choices=[("", "Any but deleted"), (ALL, "Any, deleted included")]
        + Completion.Status.choices,
        required=False,
    )
    provider = forms.CharField(label="Provider (ACCME ID)", required=False)
    channel = forms.ChoiceField(
        label="Received by", choices=[("", "Any way")] + Channel.choices, required=False
    )
    late = forms.ChoiceField(
        label="Deadline",
        choices=[("", "Any"), (LATE, "Sent after the deadline")],
        required=False,
    )
    reason = forms.CharField(
        label="Reason", required=False, help_text=f"The exact reason; “{NO_REASON}” for none."
    )
    board = forms.ChoiceField(
        label="Board",
        choices=[
            ("", "Any"),
            (WAITING, "Sent, waiting for the board's answer"),
            (CONFIRMED, "Confirmed by the board"),
        ],
        required=False,
    )
    warning = forms.ChoiceField(
        label="Name warning",
        choices=[("", "Any"), (WARNED, "Name differs from the roster")],
        required=False,
    )
    upload = forms.IntegerField(required=False, widget=forms.HiddenInput, **ROW_ID)
    batch = forms.IntegerField(required=False, widget=forms.HiddenInput, **ROW_ID)
    deletion_batch = forms.IntegerField(required=False, widget=forms.HiddenInput, **ROW_ID)

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

    def filter(self, queryset):
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        learner_id = "".join(data["learner_id"].split())
        if len(learner_id) >= FULL_ID_LENGTH:  # a whole ID: the learner index, exactly
            queryset = queryset.filter(learner_id=learner_id)
        elif learner_id:
            queryset = queryset.filter(prefix_match("learner_id", learner_id))
        last, first = name_key(data["last_name"]), name_key(data["first_name"])
        if last:
            queryset = queryset.filter(prefix_match("last_name_key", last))
        if first:
            queryset = queryset.filter(prefix_match("first_name_key", first))
        activity = data["activity"].strip()
        if activity.isdigit():
            queryset = queryset.filter(activity__pars_id=activity.zfill(9))
        elif activity:
            # The (few) activities first, then their records by the activity index. The
            # records' own scope still applies: other providers' activities match nothing.
            titled = Activity.objects.filter(title__icontains=activity)
            queryset = queryset.filter(activity_id__in=list(titled.values_list("pk", flat=True)))
        if data["date_from"]:
            queryset = queryset.filter(completion_date__gte=data["date_from"])
        if data["date_to"]:
            queryset = queryset.filter(completion_date__lte=data["date_to"])
        if not data["status"]:
            queryset = queryset.exclude(status=Completion.Status.DELETED)
        elif data["status"] != ALL:
            queryset = queryset.filter(status=data["status"])
        if data["provider"]:
            queryset = queryset.filter(provider__accme_id=data["provider"].strip().zfill(7))
        if data["channel"]:
            queryset = queryset.filter(channel=data["channel"])
        if data["late"] == LATE:
            queryset = queryset.filter(late_records(data["date_from"], data["date_to"]))
        if data["reason"]:
            reason = "" if data["reason"] == NO_REASON else data["reason"]
            queryset = queryset.filter(status_reason=reason)
        if data["board"] == WAITING:
            queryset = queryset.filter(awaiting_board())
        elif data["board"] == CONFIRMED:
            queryset = queryset.filter(board_confirmed())
        if data["warning"] == WARNED:
            queryset = queryset.exclude(warning="")
        if data["upload"]:
            queryset = queryset.filter(upload_id=data["upload"])
        if data["batch"]:
            queryset = queryset.filter(transmitted_in_id=data["batch"])
        if data["deletion_batch"]:
            queryset = queryset.filter(deletion_transmitted_in_id=data["deletion_batch"])
        return queryset

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
    from urllib.parse import urlencode

    query = {k: v for k, v in data.items() if k != name} | changes
    return "?" + urlencode(query) if query else "?"


class UploadForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=None, required=True)
    file = forms.FileField(
        help_text="Tab-delimited (.txt), CSV, Excel (.xlsx) or XML learner report (.xml).",
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.tsv,.csv,.xlsx,.xml"}),
    )

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        if len(providers) == 1:
            del self.fields["provider"]
        self.helper = FormHelper()
        self.helper.add_input(Submit("upload", "Upload and check"))


class ApiKeyForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'Moodle LMS'.")
    mode = forms.ChoiceField(
        choices=[("sandbox", "Sandbox: records are validated and stored, never sent to ABIM"),
                 ("production", "Production: records go to ABIM")],
        widget=forms.RadioSelect, initial="sandbox",
    )  # fmt: skip

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        if len(providers) == 1:
            del self.fields["provider"]
        self.helper = FormHelper()
        self.helper.add_input(Submit("create", "Create API key"))


class ContactForm(forms.Form):
    contacted_on = forms.DateField(widget=DateInput(), label="Date")
    method = forms.ChoiceField(
        choices=[("email", "Email"), ("phone", "Phone"), ("letter", "Letter"), ("other", "Other")]
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(choices=[
        ("resubmitted", "Provider resubmitted"), ("withdrawn", "Provider withdrew the record"),
        ("unreachable", "Provider unreachable")])  # fmt: skip
