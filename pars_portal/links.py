"""Links from a figure to the list of exactly the records (or activities) it counts: the
list pages' own filter parameters (participants.filters), built once."""

import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def list_url(url_name: str, **params) -> str:
    """A list page filtered by `params` (empty values left out)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{reverse(url_name)}?{urlencode(query)}"


def records_url(**params) -> str:
    return list_url("participant_search", **params)


def activities_url(**params) -> str:
    return list_url("activity_list", **params)


def year_filter(year: int) -> dict:
    start, end = year_bounds(year)
    return {"date_from": start.isoformat(), "date_to": end.isoformat()}
