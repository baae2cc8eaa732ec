"""Django's SQLite backend, told the real variable limit of the linked SQLite, with a
cheaper placeholder conversion for long statements and converters that remember.

Django 5.2 assumes SQLite's old compile-time default of 999 variables per statement, so a
10,000-row bulk insert becomes hundreds of INSERTs. SQLite 3.32+ allows 32,766 (we read the
actual limit from the connection); bulk writes then take a handful of statements.

Such a statement has tens of thousands of `%s`, which Django turns into `?` with a regular
expression (skipping an escaped `%%s`): about 5 ms a statement, half a second for an
upload's save. A statement without `%%` has no escaped placeholder, so a plain replace
gives the same text.

Reading rows back, Django parses every stored date, time and decimal again, though the
rows of a batch share a handful of them (an upload's records share their creation time,
completion dates and points): the converters here remember the last few thousand (the
values are immutable, so sharing them is safe).
"""

import datetime as dt
import functools
import sqlite3

from django.conf import settings
from django.db.backends.sqlite3 import base, features, operations
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseOperations(operations.DatabaseOperations):
    def convert_datetimefield_value(self, value, expression, connection):
        if type(value) is dt.datetime and value.tzinfo is None and settings.USE_TZ:
            return _aware(value, self.connection.timezone)
        return super().convert_datetimefield_value(value, expression, connection)

    def get_decimalfield_converter(self, expression):
        convert = super().get_decimalfield_converter(expression)

        @functools.lru_cache(maxsize=4096)
        def remembered(value, kind):  # kind: 10 and 10.0 are equal keys, keep them apart
            return convert(value, expression, self.connection)

        def converter(value, expression, connection):
            if value is None:
                return None
            return remembered(value, type(value))

        return converter


@functools.lru_cache(maxsize=4096)
def _aware(value: dt.datetime, tz) -> dt.datetime:
    return timezone.make_aware(value, tz)


# The sqlite3 module turns the text of columns declared date/datetime into Python values
# (Django registers these converters for every connection): the same, remembering.
def _remembering(parse):
    @functools.lru_cache(maxsize=4096)
    def convert(raw: bytes):
        return parse(raw.decode())

    return convert


sqlite3.register_converter("date", _remembering(parse_date))
sqlite3.register_converter("datetime", _remembering(parse_datetime))
sqlite3.register_converter("timestamp", _remembering(parse_datetime))


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is None and "%%" not in query:
            return query.replace("%s", "?")
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
