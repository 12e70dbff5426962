"""Reports for återrapportering: one grant's read model as CSV for Swedish Excel or a workbook.

``ledger.grant_model.GrantModel`` (read by ``LedgerQueries.grant(..., decisions=True)`` in one
snapshot) is the report; the renderers here are pure functions of it.  The JSON form is the API's
``GrantReportOut``, built from the same model.
"""

from ledger.formats.reports.report import (
    CSV_COLUMNS,
    DATE_FORMAT,
    FORMATS,
    KRONOR_FORMAT,
    MEDIA_TYPES,
    filename,
    render_csv,
    render_file,
)

__all__ = [
    "CSV_COLUMNS",
    "DATE_FORMAT",
    "FORMATS",
    "KRONOR_FORMAT",
    "MEDIA_TYPES",
    "filename",
    "render_csv",
    "render_file",
]
