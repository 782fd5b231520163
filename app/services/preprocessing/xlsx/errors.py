"""The errors of reading a workbook: a damaged file, or a cap that was hit."""

from __future__ import annotations


class XlsxError(ValueError):
    """Base class: the upload cannot be read as a table."""


class XlsxFormatError(XlsxError):
    """Not a readable .xlsx (bad zip, missing part, malformed XML, DOCTYPE...)."""


class XlsxLimitError(XlsxError):
    """A safety cap was hit."""


class TooManyColumns(XlsxLimitError):
    pass


class CellTooLong(XlsxLimitError):
    pass


class TooManyRows(XlsxLimitError):
    pass


class SharedStringBudgetExceeded(XlsxLimitError):
    pass


class PartTooLarge(XlsxLimitError):
    pass


class ExtraCellError(XlsxLimitError):
    """A data row has a non-empty cell to the right of the last header column."""


class NeedExact(Exception):
    """Internal: the fast path met something it does not handle exactly."""
