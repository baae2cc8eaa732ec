"""The board roster file (CSV): one learner per row, read into `RosterRow`s."""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from activities.validators import BOARD_ID_INVALID, validate_birth_month_day
from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import (
    REQUIRED,
    clean_text,
    read_birth_date,
    read_day,
    read_month,
    read_padded_id,
)

from ..rows import Learner

ROSTER_COLUMNS = {
    "board_id": ("board_id", "board id", "abim id", "abim_id", "learner_id"),
    "first_name": ("first_name", "first name", "given name"),
    "last_name": ("last_name", "last name", "family name"),
    "birth_month": ("birth_month", "birth month"),
    "birth_day": ("birth_day", "birth day"),
    "birth_date": ("birth_date", "birth date", "birthdate"),
    "board": ("board",),
}
ROSTER_HEADER_INVALID = (
    "The roster file needs a header row with board_id, first_name, last_name and either "
    "birth_month + birth_day or birth_date. Found: {found}."
)


@dataclass(slots=True, kw_only=True)
class RosterRow(Learner):
    """A learner of the board's roster file, with the file's row number."""

    row_number: int = 0


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    field: str
    message: str

    def __str__(self):
        return f"Row {self.row_number}, {self.field}: {self.message}"


def parse_roster_csv(
    stream: io.TextIOBase,
    *,
    default_board: str,
    id_length: int | None,
    id_pattern: str,
    id_description: str,
) -> Iterator[RosterRow | RowError]:
    reader = csv.reader(stream)
    header = next(reader, None) or []
    names = [clean_text(h).lower().lstrip("\ufeff") for h in header]
    index = {}
    for key, aliases in ROSTER_COLUMNS.items():
        for position, name in enumerate(names):
            if name in aliases:
                index[key] = position
                break
    has_birth = {"birth_month", "birth_day"} <= index.keys() or "birth_date" in index
    if not ({"board_id", "first_name", "last_name"} <= index.keys() and has_birth):
        raise FileRefused(ROSTER_HEADER_INVALID.format(found=", ".join(names) or "nothing"))

    def cell(values, key):
        position = index.get(key)
        return values[position] if position is not None and position < len(values) else ""

    for row_number, values in enumerate(reader, start=2):
        if not any(clean_text(v) for v in values):
            continue
        field = "board_id"
        try:
            learner_id = read_padded_id(cell(values, "board_id"), id_length)
            if not re.fullmatch(id_pattern, learner_id):
                raise ValueError(
                    BOARD_ID_INVALID.format(board=default_board, description=id_description)
                )
            field = "first_name"
            first_name = clean_text(cell(values, "first_name"))
            if not first_name:
                raise ValueError(REQUIRED)
            field = "last_name"
            last_name = clean_text(cell(values, "last_name"))
            if not last_name:
                raise ValueError(REQUIRED)
            if "birth_date" in index and clean_text(cell(values, "birth_date")):
                field = "birth_date"
                month, day = read_birth_date(cell(values, "birth_date"))
            else:
                field = "birth_month"
                month = read_month(cell(values, "birth_month"))
                field = "birth_day"
                day = read_day(cell(values, "birth_day"))
            if problems := validate_birth_month_day(month, day):
                field, error = next(iter(problems.items()))
                raise ValueError(error.messages[0])
        except ValueError as error:
            yield RowError(row_number, field, str(error))
            continue
        board = clean_text(cell(values, "board")).upper() or default_board
        yield RosterRow(row_number=row_number, board_code=board, learner_id=learner_id,
                        first_name=first_name, last_name=last_name, birth_month=month,
                        birth_day=day)  # fmt: skip
