"""Typed settings, read once at the edge (STYLE.md §6). Environment: ``LIUHEN_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIUHEN_", extra="forbid")

    data_dir: Path = Path("./liuhen-data")
    """Everything a station keeps locally: database, keys, staging, the latest checkpoint."""
    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/ledger.db``. PostgreSQL for a bureau:
    ``postgresql+psycopg://user@host/db``."""
    origin: str = "liuhen.local/ledger/v1"
    """The ledger's checkpoint origin; a bureau uses its own, e.g.
    ``liuhen.example-bureau/ledger/v1``."""
    station_id: str = "station-local"
    tsa_urls: list[str] = []
    """RFC 3161 TSAs to anchor checkpoints with; none by default (checkpoints signed only)."""
    tsa_roots: list[Path] = []
    """PEM files of the TSA roots that tokens must chain to."""

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'ledger.db'}"
