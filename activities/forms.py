from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from .models import Activity, Attestation, CreditType, Provider, ProviderMembership
from .validators import validate_moc_points, validate_plain_text


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ActivityForm(forms.ModelForm):
    provider = forms.ModelChoiceField(queryset=Provider.objects.none())

    class Meta:
        model = Activity
        fields = [
            "provider", "title", "provider_activity_id", "activity_type", "start_date",
            "end_date", "reporting_year", "cme_credits", "legacy_module_code",
        ]  # fmt: skip
        widgets = {"start_date": DateInput(), "end_date": DateInput()}

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        if self.instance.pk or len(providers) == 1:
            # An activity never moves between providers; one provider needs no choice.
            del self.fields["provider"]
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save activity"))


class RegistrationForm(forms.Form):
    # The model's own rule on the field, so that every problem shows in the same round.
    moc_points = forms.DecimalField(
        label="MOC points offered",
        max_digits=6,
        decimal_places=2,
        validators=[validate_moc_points],
        help_text="In steps of 0.25.",
    )
    credit_types = forms.ModelMultipleChoiceField(
        queryset=CreditType.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="MOC credit types offered",
    )

    def __init__(self, *args, board, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credit_types"].queryset = board.credit_types.all()
        for value, label in Attestation.Statement.choices:
            self.fields[f"attest_{value}"] = forms.BooleanField(
                label=label,
                required=True,
                error_messages={"required": "This attestation is required to register."},
            )
        self.helper = FormHelper()
        self.helper.add_input(Submit("register", "Register for ABIM MOC"))

    def attested(self) -> list[str]:
        return [v for v in Attestation.Statement.values if self.cleaned_data.get(f"attest_{v}")]


class RegistrationChangeForm(forms.Form):
    """The points and credit types a registered activity offers (the attestations stand)."""

    moc_points = RegistrationForm.base_fields["moc_points"]
    credit_types = forms.ModelMultipleChoiceField(
        queryset=CreditType.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="MOC credit types offered",
    )

    def __init__(self, *args, registration, **kwargs):
        kwargs.setdefault(
            "initial",
            {"moc_points": registration.moc_points,
             "credit_types": list(registration.credit_types.all())},
        )  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["credit_types"].queryset = registration.board.credit_types.all()
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save registration"))


ROLE_HELP = (
    "Viewers see the provider's data; editors also change it; managers also manage the staff."
)


class StaffInviteForm(forms.Form):
    first_name = forms.CharField(max_length=150, validators=[validate_plain_text])
    last_name = forms.CharField(max_length=150, validators=[validate_plain_text])
    email = forms.EmailField(max_length=150, help_text="The invitation is sent here.")
    role = forms.ChoiceField(
        choices=ProviderMembership.Role.choices,
        initial=ProviderMembership.Role.VIEWER,
        help_text=ROLE_HELP,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ProviderMembership.Role.choices)
