"""Parsing a large stored file in a second process, while this one checks the rows.

An upload's check is Python from end to end: reading the file's rows (lxml, openpyxl, the
csv module, then every value: dates, IDs, numbers) and deciding each row. On a machine with
two cores, the reading can run beside the deciding: `parse_file_apart` forks a process
that runs `parse_file` and sends its rows through a pipe, a few thousand at a time, while
the caller checks the rows already received. It yields exactly what `parse_file` yields,
in the same order, fills `meta` the same way and raises the same `FileRefused` (a file
refused halfway, after the rows before it, as `parse_file` does).

The rows travel as tuples of plain values (a date as its ordinal, a decimal as its text),
which unpickle several times faster than the objects: otherwise the receiving side would
spend most of what the reading saved. A thread here takes chunks off the pipe as they come,
up to AHEAD_CHUNKS ahead of the check (the pipeline takes a batch of 10,000 rows at a
time; a pipe alone holds less than one chunk), so memory stays bounded whatever the file's
size. The forked process touches nothing but the file and the pipe (never the database
connections it inherits) and ends with its caller: closing the generator early, an error
in the caller, or the worker killed (its pipe breaks) stops it.

What it buys, measured (README, "Performance"): about a tenth of a 100,000-row
tab-delimited file's check, more for Excel files, whose reading is most of their check;
little for a 20,000-record XML file (two batches: the first waits for its rows).
"""

import contextlib
import dataclasses
import datetime as dt
import enum
import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Iterator
from decimal import Decimal

from pars_portal.lib.files import FileRefused

from ..rows import ParticipantRow
from .detect import parse_file

# Below this size the fork costs more than it saves (a 1 MB file is about 14,000 rows).
APART_MIN_BYTES = 1_000_000
CHUNK_ROWS = 2_000
# Chunks read ahead of the check: more than one of the pipeline's batches (10,000 rows).
AHEAD_CHUNKS = 8

# ParticipantRow's fields, in the order the tuples carry them (and `parse_file_apart`
# unpacks them): every field, or a row would arrive without one.
_FIELDS = ("board_code", "learner_id", "first_name", "last_name", "birth_month",
           "birth_day", "row_number", "action", "activity_ref", "completion_date",
           "credit_type", "moc_points", "cme_credits", "learner_permission", "credit_id",
           "corrects_id", "errors", "source")  # fmt: skip
if set(_FIELDS) != {f.name for f in dataclasses.fields(ParticipantRow)}:
    raise ImportError("parsers.background: ParticipantRow's fields changed; update _FIELDS.")
_DATE = _FIELDS.index("completion_date")
_DECIMALS = (_FIELDS.index("moc_points"), _FIELDS.index("cme_credits"))
_ACTION = _FIELDS.index("action")

PARSE_STOPPED = "the file's reader stopped unexpectedly (exit code {code})"


class ParseFailed(Exception):
    """The reading process failed for another reason than a refused file; `kind` is the
    error's class name, for the upload's message."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def worth_parsing_apart(path) -> bool:
    try:
        return os.path.getsize(path) >= APART_MIN_BYTES
    except OSError:
        return False


def _pack(row: ParticipantRow) -> tuple:
    values = [getattr(row, name) for name in _FIELDS]
    if isinstance(values[_ACTION], enum.Enum):
        values[_ACTION] = values[_ACTION].value  # the same text; an enum unpickles slowly
    if values[_DATE] is not None:
        values[_DATE] = values[_DATE].toordinal()
    for i in _DECIMALS:
        if values[i] is not None:
            values[i] = str(values[i])
    return tuple(values)


def _produce(connection, other_end, path, file_format, provider_id, id_lengths) -> None:
    """The forked process: parse, send chunks, then the end (with `meta`) or the error."""
    # The reading end came with the fork: held here too, the pipe would never break when
    # the worker dies, and a full pipe would keep this process waiting for ever.
    other_end.close()
    meta: dict = {}
    try:
        chunk = []
        for row in parse_file(path, file_format, provider_id=provider_id,
                              id_lengths=id_lengths, meta=meta):  # fmt: skip
            chunk.append(_pack(row))
            if len(chunk) >= CHUNK_ROWS:
                connection.send_bytes(pickle.dumps(("rows", chunk), pickle.HIGHEST_PROTOCOL))
                chunk = []
        if chunk:
            connection.send_bytes(pickle.dumps(("rows", chunk), pickle.HIGHEST_PROTOCOL))
        message = ("end", meta)
    except FileRefused as error:
        message = ("refused", (str(error), meta))
    except BrokenPipeError:
        return  # the caller stopped reading: nothing more to say
    except Exception as error:  # noqa: BLE001 - reported to the caller, who decides
        message = ("failed", (type(error).__name__, str(error)))
    with contextlib.suppress(BrokenPipeError):
        connection.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def parse_file_apart(path, file_format: str, *, provider_id: str, id_lengths,
                     meta) -> Iterator[ParticipantRow]:  # fmt: skip
    """`parse_file`, read in a forked process (see the module's docstring)."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_produce,
        args=(sending, receiving, path, file_format, provider_id, dict(id_lengths)),
        name="pars-parse", daemon=True,
    )  # fmt: skip
    process.start()
    sending.close()  # the child holds the only writing end: its exit ends the pipe
    # A pipe holds less than one chunk: without a reader here, the reading process would
    # wait for the check to take each chunk, and the check takes a batch at a time.
    chunks, stop = queue.Queue(maxsize=AHEAD_CHUNKS), threading.Event()
    drain = threading.Thread(target=_drain, args=(receiving, chunks, stop), daemon=True)
    drain.start()
    new, dates, decimals = ParticipantRow.__new__, {}, {}
    finished = False
    try:
        while True:
            data = chunks.get()
            if data is None:
                process.join()
                stopped = PARSE_STOPPED.format(code=process.exitcode)
                raise ParseFailed("ParseStopped", stopped)
            # Our own forked process wrote it (never the uploaded bytes themselves).
            kind, payload = pickle.loads(data)  # noqa: S301
            if kind == "rows":
                for values in payload:
                    row = new(ParticipantRow)
                    (row.board_code, row.learner_id, row.first_name, row.last_name,
                     row.birth_month, row.birth_day, row.row_number, row.action,
                     row.activity_ref, day, row.credit_type, points, credits,
                     row.learner_permission, row.credit_id, row.corrects_id, row.errors,
                     row.source) = values  # fmt: skip
                    row.completion_date = _cached(day, dates, dt.date.fromordinal)
                    row.moc_points = _cached(points, decimals, Decimal)
                    row.cme_credits = _cached(credits, decimals, Decimal)
                    yield row
            elif kind == "end":
                meta.update(payload)
                finished = True
                return
            elif kind == "refused":
                message, found = payload
                meta.update(found)
                finished = True
                raise FileRefused(message)
            else:
                finished = True
                raise ParseFailed(*payload)
    finally:
        stop.set()
        if not finished and process.is_alive():
            process.kill()  # the caller stopped early: the reader has nothing left to do
        process.join()  # ended: the pipe is at its end, and the drain sees it
        drain.join()
        receiving.close()


def _drain(connection, chunks: queue.Queue, stop: threading.Event) -> None:
    """Takes each chunk off the pipe as soon as it is written, up to AHEAD_CHUNKS ahead of
    the check; None once the pipe ends (the reading process ended)."""
    while True:
        try:
            data = connection.recv_bytes()  # (waits without holding the interpreter)
        except (EOFError, OSError):
            data = None
        while not stop.is_set():
            try:
                chunks.put(data, timeout=0.1)
                break
            except queue.Full:
                continue
        if data is None or stop.is_set():
            return


CACHED_VALUES = 4096  # a file has a few dates and point values, repeated; never more kept


def _cached(value, cache: dict, make):
    """`make(value)`, the same object for the same value (most rows repeat a few)."""
    if value is None:
        return None
    made = cache.get(value)
    if made is None:
        if len(cache) >= CACHED_VALUES:
            cache.clear()
        made = cache[value] = make(value)
    return made
