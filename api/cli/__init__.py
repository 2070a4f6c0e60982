"""The ``liuhen`` command line (Typer): one module per command group, sharing ``_common``.

``station``  init, demo, station, ingest
``ledger``   audit, checkpoint, export-bundle, verify-bundle, trust-root, keys, verify, fixity
``jobs``     jobs run/start/hold/dispose/verify-certificate
``serve``    serve, tokens
``accounts`` units, users
``stations`` stations join/approve/revoke/list/audit, sync
``supervision`` alerts
``export``   export case/clips (移送包)

The command modules import ``_common`` and lower layers, never this package: it only registers
them. Adapters are imported inside the commands: ``verify-bundle`` runs with the standard
library, cryptography and rfc3161-client only, without the database.
"""

from __future__ import annotations

import logging
import warnings

import typer

from api.cli import accounts, export, jobs, ledger, serve, station, stations, supervision
from api.console import PrintableFormatter

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="留痕 liuhen: evidence ingestion and a signed, timestamped Merkle ledger.")
app.add_typer(station.app)
app.add_typer(ledger.app)
app.add_typer(jobs.app, name="jobs")
app.add_typer(export.app, name="export")
app.add_typer(serve.app)
app.add_typer(accounts.units_app, name="units")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.login_app)
app.add_typer(stations.app, name="stations")
app.add_typer(stations.sync_app)
app.command("alerts")(supervision.alerts)


def main(argv: list[str] | None = None) -> None:
    # Adapters report through logging; the local store's UnsafeStoreWarning is also logged by
    # the store itself, so the Python warning would only print it twice.
    # Log records repeat file names from recorders: escaped like every other line printed.
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    warnings.filterwarnings("ignore", message="LocalWormStore at ")
    app(argv)
