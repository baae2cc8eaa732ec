"""Django's SQLite backend, told the real variable limit of the linked SQLite.

Django 5.2 assumes SQLite's old compile-time default of 999 variables per statement, so a
10,000-row bulk insert becomes hundreds of INSERTs. SQLite 3.32+ allows 32,766 (we read the
actual limit from the connection); bulk writes then take a handful of statements.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
