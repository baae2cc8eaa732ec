"""Choosing the parser: by extension and first bytes; `parse_file` reads any format."""

import re
from collections.abc import Iterator

from pars_portal.lib.files import FileRefused

from .delimited import parse_csv, parse_tsv
from .xlsx import parse_xlsx
from .xml import WEB_PAGE, parse_xml

FORMAT_UNKNOWN = (
    "Upload a .txt/.tsv (tab-delimited), .csv, .xlsx or .xml file; {name!r} is none of these."
)
# Files people upload for a spreadsheet, refused as soon as they arrive with what to do.
OFFICE_97 = (
    "This is an Excel 97–2003 workbook (.xls) or a password-protected Office file, which "
    "cannot be read. In Excel, remove any password and save it as “Excel Workbook (.xlsx)” "
    "or “CSV UTF-8”, then upload it again."
)
OPEN_DOCUMENT = (
    "This is an OpenDocument spreadsheet (.ods). Open it in your spreadsheet program and "
    "save it as “Excel Workbook (.xlsx)” or “CSV UTF-8”, then upload it again."
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: .xls, .doc, an encrypted .xlsx
# A page's first tag, or its DOCTYPE or <html> tag after a comment or an XML declaration.
_HTML_START = re.compile(rb"<(table|meta|head|body|style|title)[\s>/]")
_HTML_ANYWHERE = re.compile(rb"<(!doctype\s+html|html)[\s>/]")
EXTENSIONS = {".txt": "tsv", ".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".xlsx": "xlsx",
              ".xml": "xml"}  # fmt: skip


def detect_format(file_name: str, head: bytes) -> str:
    """The format from the file's content where it is unambiguous, else its extension."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(_OLE):
        raise FileRefused(OFFICE_97)
    if start.startswith(b"PK\x03\x04"):
        if b"application/vnd.oasis.opendocument" in start[:100]:  # its "mimetype" member
            raise FileRefused(OPEN_DOCUMENT)
        return "xlsx"
    if start.startswith(b"<"):
        lowered = start.lower()
        if _HTML_START.match(lowered) or _HTML_ANYWHERE.search(lowered):
            raise FileRefused(WEB_PAGE)
        return "xml"
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if suffix in EXTENSIONS and EXTENSIONS[suffix] not in ("xlsx", "xml"):
        return EXTENSIONS[suffix]
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]  # says xlsx/xml but is not: its parser refuses it clearly
    raise FileRefused(FORMAT_UNKNOWN.format(name=file_name))


def parse_file(path, file_format: str, *, provider_id: str, id_lengths, meta) -> Iterator:
    """Rows of a stored upload, streamed. Raises FileRefused for an unreadable file."""
    if file_format == "xlsx":
        yield from parse_xlsx(path, id_lengths=id_lengths, meta=meta)
        return
    with open(path, "rb") as stream:
        if file_format == "xml":
            yield from parse_xml(stream, provider_id=provider_id, id_lengths=id_lengths)
        elif file_format == "csv":
            yield from parse_csv(stream, id_lengths=id_lengths, meta=meta)
        else:
            yield from parse_tsv(stream, id_lengths=id_lengths, meta=meta)
