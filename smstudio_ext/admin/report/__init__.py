"""``smstudio audit --report``: savings from idle shutdown, cost per user and team, compliance
over time, as JSON and as one self-contained HTML page, for one domain or many accounts.

Modules: ``trail`` (CloudTrail LookupEvents), ``owners`` (owners, tags, attribution),
``savings`` (shutdowns → hours and money avoided), ``costs`` (live and billed per tag),
``history`` (dated runs in a directory or S3, compliance trend), ``build`` (scopes, accounts,
the document), ``charts`` and ``html`` (rendering).
"""

from __future__ import annotations

from .build import ReportOptions, build_report, exit_code
from .html import render

__all__ = ["ReportOptions", "build_report", "exit_code", "render"]
