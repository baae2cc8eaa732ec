"""Database helpers shared by the apps."""

import functools
import itertools
import json
import time
from collections.abc import Iterable, Sequence

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db import models as m
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.lookups import In


class ManyIn(In):
    """`ManyIn(F("learner_id"), values)` in `filter()`: `column IN (…)` for thousands of
    values that are already the column's plain values (text, integers). Django's `__in`
    prepares and resolves every value one by one, which costs more than the query itself
    at a batch's 10,000 learner IDs; these go in as parameters as they are."""

    def get_prep_lookup(self):
        return list(dict.fromkeys(v for v in self.rhs if v is not None))

    def process_rhs(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        return "(" + ", ".join(["%s"] * len(self.rhs)) + ")", list(self.rhs)


def insert_returning_ids(
    model,
    rows: list[dict],
    *,
    returning: bool = True,
    upsert: tuple[list, list] | None = None,
    upsert_if_changed: list[str] | None = None,
) -> list[int]:
    """INSERT many rows of `model` in a few statements and return their ids in order.

    Django's bulk_create compiles every value of every row through the ORM, which costs
    more than the database's own work at 10,000 rows a batch. Here each column's conversion
    is chosen once, the SQL is built once per chunk size, and the rows go in as plain
    parameters. Like bulk_create on SQLite 3.35+, it relies on RETURNING giving the ids in
    VALUES order. On PostgreSQL (without `upsert`) the rows go in by COPY instead, several
    times faster: their ids are taken from the table's sequence first (ascending, in row
    order, as an INSERT would give them), and a row that breaks a constraint fails the
    whole COPY with the same IntegrityError. `upsert=(unique_fields, update_fields)`: a row whose
    unique fields match an existing one updates it instead (ON CONFLICT … DO UPDATE, which
    SQLite and PostgreSQL both speak); the rows must not repeat a key. With
    `upsert_if_changed` (fields, not null), a row is updated only where one of them differs,
    so re-sending the same rows writes nothing.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    fields = [model._meta.get_field(name) for name in rows[0]]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    converters = [_converter(f, connection) for f in fields]
    if connection.vendor == "postgresql" and not upsert:
        return _copy_returning_ids(model, rows, fields, converters, connection, returning)
    # As bulk_create: SQLite's variable limit decides; PostgreSQL binds client-side.
    chunk = max(1, connection.ops.bulk_batch_size(fields, rows))
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = ""
    if upsert:
        unique, update = ([connection.ops.quote_name(model._meta.get_field(n).column)
                           for n in names] for names in upsert)  # fmt: skip
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        conflict = f" ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {sets}"
        if upsert_if_changed:
            quote = connection.ops.quote_name
            differs = [f"{table}.{c} <> excluded.{c}"
                       for c in (quote(model._meta.get_field(n).column)
                                 for n in upsert_if_changed)]  # fmt: skip
            conflict += " WHERE " + " OR ".join(differs)
    unnest = connection.vendor == "postgresql"
    if unnest:
        # One array per column, as Django's own bulk_create does on PostgreSQL: a short
        # statement whatever the number of rows (a VALUES list of 10,000 rows costs more
        # to send and parse than to insert), rows in array order.
        chunk = UNNEST_ROWS
        types = [f.db_type(connection).split("(")[0] for f in fields]
        arrays = ", ".join(f"%s::{t}[]" for t in types)
    convert = [(i, c) for i, c in enumerate(converters) if c]  # only these are touched
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = [list(row.values()) for row in part]
            if convert:
                for row in values:
                    for i, converter in convert:
                        row[i] = converter(row[i])
            # Only quoted model names and placeholders go into the SQL; values are parameters.
            if unnest:
                source = f"SELECT * FROM UNNEST({arrays})"  # noqa: S608 - placeholders only
                params = [list(column) for column in zip(*values, strict=True)]
            else:
                source = "VALUES " + ", ".join([row_sql] * len(part))
                params = [value for row in values for value in row]
            sql = f"INSERT INTO {table} ({columns}) {source}{conflict}"  # noqa: S608
            if returning:
                sql += f" RETURNING {pk}"
            cursor.execute(sql, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


UNNEST_ROWS = 10_000


def _copy_returning_ids(model, rows, fields, converters, connection, returning) -> list[int]:
    """insert_returning_ids on PostgreSQL: ids from the sequence, then one COPY."""
    columns = [f.column for f in fields]
    pk = model._meta.pk
    ids: list[int] = []
    if returning:
        if not getattr(pk, "db_returning", False) or pk.name in rows[0]:
            raise ValueError(f"{model.__name__}: ids are returned for an automatic key only.")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(model._meta.db_table), pk.column, len(rows)],
            )
            ids = sorted(r[0] for r in cursor.fetchall())
        columns.insert(0, pk.column)

    # Only the columns that have a conversion are touched, row by row.
    convert = [(i, c) for i, c in enumerate(converters, start=int(returning)) if c]

    def values():
        for index, row in enumerate(rows):
            values = [ids[index], *row.values()] if returning else list(row.values())
            for i, converter in convert:
                values[i] = converter(values[i])
            yield values

    copy_rows(model, columns, values(), using=connection.alias)
    return ids


def _converter(field, connection):
    """How a Python value of `field` becomes a query parameter (None: as it is)."""
    ops = type(connection.ops)
    if isinstance(field, m.JSONField):
        if ops.adapt_json_value is BaseDatabaseOperations.adapt_json_value:
            # What get_db_prep_save gives for a plain value (SQLite): None as SQL NULL, else
            # the JSON text; without its chain of calls, 100,000 history details a file.
            dumps = functools.partial(json.dumps, cls=field.encoder)
            return lambda value: None if value is None else dumps(value)
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, m.DateTimeField):
        # A batch stamps every row with the same time: convert it once.
        return functools.lru_cache(maxsize=8)(connection.ops.adapt_datetimefield_value)
    if isinstance(field, m.DateField):
        return functools.lru_cache(maxsize=4096)(connection.ops.adapt_datefield_value)
    if isinstance(field, m.DecimalField):
        if ops.adapt_decimalfield_value is BaseDatabaseOperations.adapt_decimalfield_value:
            return None  # the value as it is (the base adaptation returns it unchanged)
        return lambda v: connection.ops.adapt_decimalfield_value(
            v, field.max_digits, field.decimal_places
        )
    return None


def copy_rows(target, columns: Sequence[str], rows: Iterable[Sequence], *, using=None) -> int:
    """Write `rows` (tuples of Python values in `columns` order) into `target`, a model or
    a table name (a temporary staging table, say), as fast as the database takes them; the
    number of rows written.

    PostgreSQL: one COPY … FROM STDIN (psycopg's cursor.copy), rows streamed as they come,
    never held in memory; several times faster than INSERTs at a million rows. Elsewhere
    (SQLite): executemany of one INSERT in chunks of COPY_CHUNK rows. `columns` are
    database column names (`provider_id`, not `provider`). Values go in as they are (no
    field conversion: dates, datetimes, decimals, booleans, text and None, which both
    drivers adapt). It writes in the caller's transaction, if any.
    """
    if isinstance(target, str):
        alias = using or DEFAULT_DB_ALIAS
        table = target
    else:
        alias = using or router.db_for_write(target)
        table = target._meta.db_table
    connection = connections[alias]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Only quoted names go into the statement; the values travel as COPY data. A
            # broken constraint raises Django's IntegrityError, as an INSERT would.
            statement = f"COPY {quote(table)} ({names}) FROM STDIN"
            began = time.monotonic()
            with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            if connection.queries_logged:  # seen where queries are (DEBUG, tests' counts)
                connection.queries_log.append(
                    {
                        "sql": f"{statement} -- {written} rows",
                        "time": f"{time.monotonic() - began:.3f}",
                    }
                )
            return written
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        rows = iter(rows)
        while chunk := list(itertools.islice(rows, COPY_CHUNK)):
            cursor.executemany(sql, chunk)
            written += len(chunk)
    return written


COPY_CHUNK = 20_000
