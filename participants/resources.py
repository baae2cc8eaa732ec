"""django-import-export resources for the reviewers' admin.

Exports use the portal's own columns (the upload template plus the record's status), with
spreadsheet formulas neutralised. Imports never use the library's per-row save: every row
goes through the intake pipeline (a dry run for the admin's preview, for real on confirm),
so admin imports obey exactly the rules of uploads, forms and the API.
"""

import tablib
from django.core.exceptions import ValidationError
from import_export import resources
from import_export.results import Error, Result, RowResult

from activities.models import Activity, Board, Channel, Provider

from .exports import export_text, neutralize, record_cells, record_headers
from .intake import intake_submit
from .models import Completion
from .parsers import (
    FileRefused,
    clean_text,
    map_header,
    row_from_values,
)
from .rows import Result as Outcome

ACTIVITY_NOT_FOUND = "Activity {ref} does not exist."


class CompletionResource(resources.ModelResource):
    class Meta:
        model = Completion
        fields = ("id",)

    def export(self, queryset=None, **kwargs):
        queryset = self.get_queryset() if queryset is None else queryset
        queryset = queryset.select_related("activity", "board", "credit_type", "provider")
        data = tablib.Dataset(headers=record_headers())
        for completion in queryset.iterator(chunk_size=2000):
            data.append([neutralize(export_text(v)) for v in record_cells(completion)])
        return data

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        result = Result()
        result.diff_headers = [clean_text(h) for h in dataset.headers or []]
        try:
            columns = map_header(dataset.headers or [], kind="admin import")
        except FileRefused as error:
            result.append_base_error(Error(ValidationError(str(error))))
            return result
        id_lengths = {b.code: b.board_id_length for b in Board.objects.all()}
        rows, raw = [], {}
        for number, values in enumerate(dataset, start=2):
            cells = dict(zip(columns, values, strict=False))
            row = row_from_values(number, {k: v for k, v in cells.items() if k}, None, id_lengths)
            rows.append(row)
            raw[number] = dict(zip(result.diff_headers, values, strict=False))
        providers = dict(
            Activity.objects.filter(pars_id__in={r.activity_ref for r in rows}).values_list(
                "pars_id", "provider"
            )
        )
        by_provider: dict[int, list] = {}
        outcomes = {}
        for row in rows:
            provider_id = providers.get(row.activity_ref)
            if provider_id is None:
                row.errors.setdefault("activity", ACTIVITY_NOT_FOUND.format(ref=row.activity_ref))
                outcomes[row.row_number] = None
            else:
                by_provider.setdefault(provider_id, []).append(row)
        for provider_id, group in by_provider.items():
            provider = Provider.objects.get(pk=provider_id)
            for outcome in intake_submit(
                provider=provider, rows=group, actor=kwargs.get("user"), channel=Channel.ADMIN,
                commit=not dry_run,
            ).outcomes:  # fmt: skip
                outcomes[outcome.row_number] = outcome
        for row in rows:
            outcome = outcomes[row.row_number]
            row_result = RowResult()
            if outcome is None or outcome.result == Outcome.ERROR:
                errors = outcome.errors if outcome else row.errors
                row_result.import_type = RowResult.IMPORT_TYPE_INVALID
                message_dict = {
                    ("__all__" if f == "__all__" else f): [m] for f, m in errors.items()
                }
                result.append_invalid_row(row.row_number, raw[row.row_number],
                                          ValidationError(message_dict))  # fmt: skip
            else:
                row_result.import_type = {
                    Outcome.CREATED: RowResult.IMPORT_TYPE_NEW,
                    Outcome.ALREADY_REPORTED: RowResult.IMPORT_TYPE_SKIP,
                    Outcome.DELETED: RowResult.IMPORT_TYPE_DELETE,
                }[outcome.result]
                row_result.object_id = outcome.completion_id
                row_result.object_repr = f"#{outcome.completion_id or 'new'} {row.learner_id}"
                row_result.diff = [str(v) for v in raw[row.row_number].values()]
            result.append_row_result(row_result)
            result.increment_row_result_total(row_result)
        result.total_rows = len(rows)
        return result
