from django import template

register = template.Library()


@register.filter
def lookup(mapping, key):
    """{{ badges|lookup:record.status }}"""
    return mapping.get(key, "") if mapping else ""


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with some parameters changed (pagination, filters)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    if "page" not in changes:
        params.pop("page", None)  # a new filter starts again on page 1
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
