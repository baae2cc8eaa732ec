"""Files the portal refuses whole, before reading them: one clear message, nothing read.

`refuse_xlsx_bomb` guards uploads and the admin's imports alike against workbooks that would
expand far beyond their size (zip bombs) before anything decompresses them.
"""

import zipfile


class FileRefused(ValueError):
    """The file as a whole cannot be read (one clear message, nothing processed)."""


XLSX_TOO_LARGE = "This Excel file expands to more than {limit} MB; split it into smaller files."
XLSX_MAX_EXPANDED = 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200


def refuse_xlsx_bomb(file) -> None:
    """Refuse a workbook (a path or a binary file) whose parts would expand to more than
    XLSX_MAX_EXPANDED, or more than XLSX_MAX_RATIO times their size (a zip bomb), before
    anything decompresses them. zipfile never expands a part beyond its declared size."""
    with zipfile.ZipFile(file) as archive:
        expanded = 0
        for info in archive.infolist():
            expanded += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if expanded > XLSX_MAX_EXPANDED or ratio > XLSX_MAX_RATIO:
                raise FileRefused(XLSX_TOO_LARGE.format(limit=XLSX_MAX_EXPANDED // 2**20))
