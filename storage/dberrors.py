"""SQLAlchemy and driver errors translated into the families of ``evidence.errors`` (STYLE.md §3),
for every repository on the ledger's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from evidence.errors import ConflictError, PolicyViolationError, UnavailableError
from storage.ledger_tables import APPEND_ONLY_MESSAGE


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn SQLAlchemy/DBAPI errors raised inside into evidence.errors families (STYLE.md §3).

    - an append-only trigger refused the statement → PolicyViolationError
    - unique/primary key/foreign key violation → ConflictError
    - connection refused or lost, database locked, serialization failure, pool exhausted
      → UnavailableError (retry)
    Anything else (a malformed statement: a bug) propagates unchanged.
    """
    try:
        yield
    except exc.DBAPIError as error:
        detail = _first_line(error.orig if error.orig is not None else error)
        if APPEND_ONLY_MESSAGE in str(error.orig):
            raise PolicyViolationError(f"{action}: refused by the database: {detail}") from error
        if isinstance(error, exc.IntegrityError):
            raise ConflictError(f"{action}: {detail}") from error
        if isinstance(error, exc.OperationalError | exc.InterfaceError) \
                or error.connection_invalidated:
            retry = 1.0 if "locked" in detail or "busy" in detail else 5.0
            raise UnavailableError(f"{action}: database unavailable: {detail}",
                                   retry_after_s=retry) from error
        raise
    except exc.TimeoutError as error:  # connection pool exhausted
        raise UnavailableError(f"{action}: no database connection free: {error}",
                               retry_after_s=1.0) from error


@contextmanager
def driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """Wrap an error of the driver connection under ``conn`` as ``conn.execute`` would have, so
    that translate_errors sees one exception family; drop the connection if it is gone
    (docs/adr/0005)."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(statement, None, error, dbapi_error,
                                      hide_parameters=True, connection_invalidated=lost,
                                      dialect=conn.dialect) from error


__all__ = ["driver_errors", "translate_errors"]
