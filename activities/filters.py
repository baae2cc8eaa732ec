"""The filters of the activity list (django-filter). Query parameter names are part of the
contract: the dashboards link to the list with them. A value the list does not know (a
year that is not four digits, registered=maybe) is ignored, as a typed address may have
anything."""

import django_filters as filters
from django.db.models import Q

from participants.selectors import activity_has_records

from .deadlines import parse_year
from .selectors import registered_for_moc


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
