"""``transferlab view``: a local, read-only web viewer of a store (Starlette, Jinja2, no script).

- :mod:`~transferlab.view.queries`: every SQL statement the viewer runs (read-only connections);
- :mod:`~transferlab.view.summary`: the overview's numbers from the library, recomputed when the store changes;
- :mod:`~transferlab.view.drift`: per-token drift rows from a ``drift tokens`` folder, read on demand;
- :mod:`~transferlab.view.render`: pure helpers for the templates;
- :mod:`~transferlab.view.routes` and :mod:`~transferlab.view.app`: the pages and the application.
"""
