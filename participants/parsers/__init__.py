"""
from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import (
    cell_text,
    clean_text,
    read_birth_date,
    read_date,
    read_decimal,
    read_padded_id,
    unsafe_character,
)

from .columns import (
    FIELD_LABELS,
    REPORT_COLUMNS,
    TEMPLATE_COLUMNS,
    TEMPLATE_HEADERS,
    field_label,
    header_key,
    row_from_values,
)
from .delimited import parse_csv, parse_tsv
from .detect import EXTENSIONS, detect_format, parse_file
from .json import ReportShapeError, element_from_json, parse_accme_json
from .roster import RosterRow, RowError, parse_roster_csv
from .xlsx import parse_xlsx
from .xml import parse_xml
"""

from pars_portal.lib.files import FileRefused, refuse_xlsx_bomb
from pars_portal.lib.values import (
    cell_text,
    clean_text,
    read_birth_date,
    read_date,
    read_day,
    read_decimal,
    read_month,
    read_padded_id,
)

from .columns import (
    REPORT_COLUMNS,
    TEMPLATE_COLUMNS,
    TEMPLATE_HEADERS,
    XML_FIELD_LABELS,
    field_label,
    header_key,
    map_header,
    read_permission,
    row_from_values,
)
from .delimited import parse_csv, parse_tsv
from .detect import detect_format, parse_file
from .json import ReportShapeError, element_from_json, parse_accme_json
from .roster import RosterRow, RowError, parse_roster_csv
from .xlsx import parse_xlsx
from .xml import parse_xml

__all__ = [
    "FileRefused",
    "REPORT_COLUMNS",
    "ReportShapeError",
    "RosterRow",
    "RowError",
    "TEMPLATE_COLUMNS",
    "TEMPLATE_HEADERS",
    "XML_FIELD_LABELS",
    "cell_text",
    "clean_text",
    "detect_format",
    "element_from_json",
    "field_label",
    "header_key",
    "map_header",
    "parse_accme_json",
    "parse_csv",
    "parse_file",
    "parse_roster_csv",
    "parse_tsv",
    "parse_xlsx",
    "parse_xml",
    "read_birth_date",
    "read_date",
    "read_day",
    "read_decimal",
    "read_month",
    "read_padded_id",
    "read_permission",
    "refuse_xlsx_bomb",
    "row_from_values",
]
