"""The foundation layer: what every app builds on and that imports none of them.

access (which providers a user or key may see), admin (the reviewers' admin site and its
base classes), logins (sign-in form and lockout keys), values (the value readers of
pars-spec §8.4 and the spreadsheet-formula guard), files (refusing files that would expand
without bound), db (the bulk insert). `make lint` holds it to that (import-linter).
"""
