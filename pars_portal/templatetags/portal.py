from django import template
from django.urls import reverse
from django.utils import dateformat
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from participants.exports import local_time, time_text

register = template.Library()


@register.filter
def lookup(mapping, key):
    """{{ badges|lookup:record.status }}"""
    return mapping.get(key, "") if mapping else ""


@register.filter
def duration(delta):
    """A timedelta as "2 days 3 h", "3 h 20 min" or "45 min"."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def when(value):
    """A time as the portal shows it: "11/30/2026 09:15 CST", in the portal's time zone, with
    the same instant as ISO 8601 (what exports and the API say) in the element's datetime."""
    if not value:
        return ""
    shown = dateformat.format(local_time(value), "m/d/Y H:i T")
    return format_html('<time datetime="{}">{}</time>', time_text(value), shown)


@register.simple_tag(takes_context=True)
def nav_link(context, url_name, text, extra_class=""):
    """A menu link. The one whose address begins the current page's (Home: only on itself)
    is the current item: aria-current="page" (portal.css underlines it)."""
    request = context.get("request")
    href = reverse(url_name)
    path = request.path if request else ""
    current = path == href if href == "/" else path.startswith(href)
    return format_html(
        '<a class="nav-link{}" href="{}"{}>{}</a>',
        f" {extra_class}" if extra_class else "",
        href,
        mark_safe(' aria-current="page"') if current else "",  # noqa: S308 (a constant)
        text,
    )


@register.filter
def filters_on(query, names):
    """How many of a list's filters `query` sets: the parameters in `names` that are not empty
    ("state!=open": `state` unless it is "open", the default). The "Filters" button, folded on
    phones, says how many are on."""
    count = 0
    for item in names.split():
        name, _, default = item.partition("!=")
        value = query.get(name, "").strip()
        count += bool(value) and value != default
    return count
