"""Django's SQLite backend, told the real variable limit of the linked SQLite, and with a
cheaper placeholder conversion for long statements.

Django 5.2 assumes SQLite's old compile-time default of 999 variables per statement, so a
10,000-row bulk insert becomes hundreds of INSERTs. SQLite 3.32+ allows 32,766 (we read the
actual limit from the connection); bulk writes then take a handful of statements.

Such a statement has tens of thousands of `%s`, which Django turns into `?` with a regular
expression (skipping an escaped `%%s`): about 5 ms a statement, half a second for an
upload's save. A statement without `%%` has no escaped placeholder, so a plain replace
gives the same text.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is None and "%%" not in query:
            return query.replace("%s", "?")
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
