"""The study report: tables, figures, one self-contained HTML page and a Markdown twin."""
