"""The study report: tables, figures, one self-contained HTML page and a Markdown twin.

The numbers come from :mod:`transferlab.transfer.analysis`; this package only renders them
(:func:`~transferlab.report.build.build_report`), with the drift section from the drift JSON files.
"""

from transferlab.report.build import build_report
from transferlab.report.drift import drift_section

__all__ = ["build_report", "drift_section"]
