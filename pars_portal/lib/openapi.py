"""OpenAPI documentation helpers (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def bearer_scheme(target_class, name: str, description: str):
    """Documents an authentication class as an HTTP bearer scheme in the OpenAPI schema
    (drf-spectacular finds the extension by its subclassing)."""

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": description}

    return type(f"{name}Scheme", (OpenApiAuthenticationExtension,), {
        "target_class": target_class, "name": name,
        "get_security_definition": get_security_definition,
    })  # fmt: skip
