"""The menu marks the section the page belongs to (aria-current), and the folded "Filters"
button on phones counts the filters that are on."""

import re

import pytest
from django.http import QueryDict
from django.template import Context, Template
from django.test import RequestFactory

from pars_portal.templatetags.portal import filters_on

MENU = Template(
    "{% load portal %}{% nav_link 'home' 'Home' %}{% nav_link 'activity_list' 'Activities' %}"
    "{% nav_link 'participant_search' 'Participants' %}{% nav_link 'upload_list' 'Uploads' %}"
    "{% nav_link 'api_help' 'API' %}"
)
CURRENT = re.compile(r'aria-current="page">([^<]+)</a>')


@pytest.mark.parametrize(
    "path, current",
    [
        ("/", "Home"),
        ("/activities/", "Activities"),
        ("/activities/new/", "Activities"),
        ("/participants/12/", "Participants"),
        ("/uploads/help/", "Uploads"),
        ("/api/keys/3/created/", "API"),
    ],
)
def test_the_menu_marks_the_current_section_only(path, current):
    html = MENU.render(Context({"request": RequestFactory().get(path)}))
    assert CURRENT.findall(html) == [current]


def test_the_pages_menu_marks_one_item(client_of, editor_a):
    html = client_of(editor_a).get("/participants/").content.decode()
    assert CURRENT.findall(html) == ["Participants"]


@pytest.mark.parametrize(
    "query, names, count",
    [
        ("", "state!=open provider reason", 0),
        ("state=open&page=2", "state!=open provider reason", 0),
        ("state=all&provider=0001234&reason=+", "state!=open provider reason", 2),
        ("q=smith&status=&completion_date=2026-01-02", "q status", 1),
    ],
)
def test_filters_on_counts_the_filters_set(query, names, count):
    assert filters_on(QueryDict(query), names) == count
