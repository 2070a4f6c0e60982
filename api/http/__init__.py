"""The HTTP edge: the FastAPI app (``app.create_app``), REST under ``/api`` (docs/api.md),
authentication and roles (``auth``). Nothing is built at import time (STYLE.md §6)."""
