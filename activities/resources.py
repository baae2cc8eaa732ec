"""django-import-export resource for activities in the reviewers' admin: export with the
registration; import creates activities through the activity service (the portal assigns
PARS IDs, the history records who)."""

import tablib
from django.core.exceptions import ValidationError
from import_export import resources
from import_export.results import Result, RowResult

from pars_portal.lib.values import clean_text, neutralize, read_date, read_decimal, read_padded_id

from . import services
from .models import Activity, Channel, Provider

ACTIVITY_HEADERS = [
    "PARS Activity ID", "Provider ID", "Provider Activity ID", "Title", "Activity Type",
    "Start Date", "End Date", "Reporting Year", "CME Credits", "ABIM MOC Points",
]  # fmt: skip


class ActivityResource(resources.ModelResource):
    class Meta:
        model = Activity
        fields = ("id",)

    def export(self, queryset=None, **kwargs):
        queryset = self.get_queryset() if queryset is None else queryset
        data = tablib.Dataset(headers=ACTIVITY_HEADERS)
        for a in queryset.select_related("provider").prefetch_related("registrations"):
            registration = next((r for r in a.registrations.all() if r.status == "active"), None)
            data.append([neutralize(v) for v in [
                a.pars_id, a.provider.accme_id, a.provider_activity_id, a.title,
                a.get_activity_type_display(), a.start_date.strftime("%m/%d/%Y"),
                a.end_date.strftime("%m/%d/%Y"), a.reporting_year, str(a.cme_credits),
                str(registration.moc_points) if registration else "",
            ]])  # fmt: skip
        return data

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        result = Result()
        result.diff_headers = [clean_text(h) for h in dataset.headers or []]
        index = {clean_text(h).lower(): i for i, h in enumerate(dataset.headers or [])}
        types = {label.lower(): value for value, label in Activity.Type.choices}
        types.update({value.lower(): value for value in Activity.Type.values})
        providers = {p.accme_id: p for p in Provider.objects.all()}
        for number, values in enumerate(dataset, start=2):

            def cell(name, values=values):
                i = index.get(name.lower())
                return values[i] if i is not None and i < len(values) else ""

            raw = dict(zip(result.diff_headers, values, strict=False))
            row_result = RowResult()
            try:
                provider = providers.get(read_padded_id(cell("Provider ID"), 7))
                if provider is None:
                    raise ValidationError({"provider": "No provider with this ACCME ID."})
                fields = {
                    "provider_activity_id": clean_text(cell("Provider Activity ID")),
                    "title": clean_text(cell("Title")),
                    "activity_type": types.get(clean_text(cell("Activity Type")).lower(), ""),
                    "start_date": read_date(cell("Start Date")),
                    "end_date": read_date(cell("End Date")),
                    "reporting_year": int(clean_text(cell("Reporting Year")) or 0),
                    "cme_credits": read_decimal(cell("CME Credits") or "0"),
                }
                if dry_run:
                    Activity(provider=provider, **fields).full_clean(exclude=["pars_id"])
                    row_result.object_repr = fields["title"]
                else:
                    activity = services.activity_create(
                        provider=provider, actor=kwargs.get("user"), channel=Channel.ADMIN,
                        **fields,
                    )  # fmt: skip
                    row_result.add_instance_info(activity)
                row_result.import_type = RowResult.IMPORT_TYPE_NEW
                row_result.diff = [str(v) for v in values]
            except (ValidationError, ValueError) as error:
                if not isinstance(error, ValidationError):
                    error = ValidationError(str(error))
                row_result.import_type = RowResult.IMPORT_TYPE_INVALID
                result.append_invalid_row(number, raw, error)
            result.append_row_result(row_result)
            result.increment_row_result_total(row_result)
        result.total_rows = len(dataset)
        return result
