"""gunicorn's settings for the portal: `gunicorn -c python:pars_portal.gunicorn_conf
pars_portal.wsgi`. Loaded by gunicorn's master before it starts the workers."""

from gunicorn.http import wsgi

_default_headers = wsgi.Response.default_headers


def _without_server(response):
    """No `Server` header: it tells only an attacker which server software to aim at."""
    return [h for h in _default_headers(response) if not h.startswith("Server:")]


wsgi.Response.default_headers = _without_server
