import calendar

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.urls import reverse
from django.utils.html import format_html

from activities.forms import DateInput
from activities.models import Channel

from .intake import intake_submit
from .models import Completion
from .rows import Action, ParticipantRow, Result

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


class ForProviderForm(forms.Form):
    """A form for one of the user's providers: the provider is asked only when there are
    several. `submit` is the button (name, label)."""

    submit: tuple[str, str]

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        if len(providers) == 1:
            del self.fields["provider"]
        self.helper = FormHelper()
        self.helper.add_input(Submit(*self.submit))


class UploadForm(ForProviderForm):
    provider = forms.ModelChoiceField(queryset=None, required=True)
    file = forms.FileField(
        help_text="Tab-delimited (.txt), CSV, Excel (.xlsx) or XML learner report (.xml).",
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.tsv,.csv,.xlsx,.xml"}),
    )

    submit = ("upload", "Upload and check")


class ApiKeyForm(ForProviderForm):
    provider = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'Moodle LMS'.")
    mode = forms.ChoiceField(
        choices=[("sandbox", "Sandbox: records are validated and stored, never sent to ABIM"),
                 ("production", "Production: records go to ABIM")],
        widget=forms.RadioSelect, initial="sandbox",
    )  # fmt: skip

    submit = ("create", "Create API key")


class ContactForm(forms.Form):
    contacted_on = forms.DateField(widget=DateInput(), label="Date")
    method = forms.ChoiceField(
        choices=[("email", "Email"), ("phone", "Phone"), ("letter", "Letter"), ("other", "Other")]
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    # Nothing preselected: the reviewer says what happened.
    resolution = forms.ChoiceField(choices=[
        ("", "Choose what happened…"), ("resubmitted", "Provider resubmitted"),
        ("withdrawn", "Provider withdrew the record"), ("unreachable", "Provider unreachable"),
    ])  # fmt: skip
