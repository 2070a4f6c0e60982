"""``liuhen serve`` (the web/API server) and ``liuhen tokens`` (API tokens).

Heavy modules (FastAPI, uvicorn, SQLAlchemy) are imported inside the commands, so the other
commands never load them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from api.cli._common import DataDir, Store, errors, opened, settings_for
from api.console import out

app = typer.Typer()


@app.command()
def serve(
    data_dir: DataDir = None,
    store: Store = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the REST API (/api, OpenAPI at /openapi.json) and the web pages."""
    import uvicorn

    from api.http.app import HttpConfig, create_app

    with errors():
        web = create_app(settings_for(data_dir, store=store), config=HttpConfig(bind_host=host))
    # The access log prints the request line only; tokens travel in a header and are never
    # in a URL, so they never reach it (tests/integration/test_api_auth.py checks).
    uvicorn.run(web, host=host, port=port, proxy_headers=False, server_header=False)


tokens_app = typer.Typer(no_args_is_help=True,
                         help="API tokens: shown once when created, stored hashed")
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="station, officer, auditor or admin")],
    name: Annotated[str, typer.Option(help="who holds it: an officer's 警号, an auditor's id, "
                                      "a station id (recorded as the actor)")],
    expires_days: Annotated[int | None, typer.Option(
        "--expires-days", min=1, max=3660, help="valid for this many days (default: no expiry)")
    ] = None,
    scope: Annotated[str, typer.Option(
        "--scope", help="'all' (every clip) or a unit code: the clips of that unit's subtree")
    ] = "all",
    data_dir: DataDir = None,
) -> None:
    """Issue a token for a station or automation and print it once (only its SHA-256 is
    stored). People sign in with 警号 and password instead (liuhen users add)."""
    from api.compose import token_repo, utc_now
    from api.http.auth import Role
    from evidence.errors import PolicyViolationError
    from evidence.identity import canonical_actor, canonical_officer_no

    with errors():
        if role not in set(Role):
            raise PolicyViolationError(f"角色 {role!r} 无效：只能是 {'、'.join(Role)} (role: use "
                                       f"one of {', '.join(Role)})")
        # An officer is named by the canonical 警号, everyone else by one spelling of a name.
        pattern = settings_for(data_dir).officer_no_pattern
        holder = (canonical_officer_no(name, pattern=pattern) if role == Role.OFFICER
                  else canonical_actor(name))
    with opened(data_dir) as ledger, errors():
        if scope != "all":
            from access.accounts import check_unit_code
            from api.compose import accounts

            scope = accounts(ledger).repo.unit(check_unit_code(scope)).code
        now = utc_now()
        expires = None if expires_days is None else now + timedelta(days=expires_days)
        token, record = token_repo(ledger).issue(name=holder, role=role, now=now,
                                                 expires_at=expires, scope=scope)
    out(token)
    until = f", expires {record.expires_at.isoformat()}" if record.expires_at else ""
    out(f"token {record.id} for {record.name} ({record.role}, scope {record.scope}{until}); it "
        "is shown only now", err=True)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="the id `liuhen tokens list` shows")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token at once; requests with it get 401 from then on."""
    from api.compose import token_repo, utc_now

    with opened(data_dir) as ledger, errors():
        record = token_repo(ledger).revoke(token_id, now=utc_now())
        when = record.revoked_at.isoformat() if record.revoked_at else "now"
        out(f"token {record.id} of {record.name} ({record.role}) revoked at {when}")


@tokens_app.command("list")
def tokens_list(data_dir: DataDir = None) -> None:
    """List tokens (never the tokens themselves): id, role, holder, created, revoked."""
    from api.compose import token_repo

    with opened(data_dir) as ledger:
        for t in token_repo(ledger).list():
            state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
            until = t.expires_at.isoformat() if t.expires_at else "no-expiry"
            out(f"{t.id}\t{t.role}\t{t.name}\t{t.created_at.isoformat()}\t{state}\t"
                f"{t.scope}\t{until}")


devices_app = typer.Typer(no_args_is_help=True,
                          help="网络上传的记录仪（4G 记录仪、手机）及其凭据 (network recorders)")
app.add_typer(devices_app, name="devices")


@devices_app.command("add")
def devices_add(
    serial: Annotated[str, typer.Argument(help="the recorder's serial (产品序号)")],
    officer: Annotated[str, typer.Option("--officer", help="the officer's 警号")],
    data_dir: DataDir = None,
) -> None:
    """Assign a 4G recorder or phone to an officer and print its upload credential once (only
    its SHA-256 is stored); it uploads with tus to /api/uploads (docs/api.md)."""
    from api.compose import register_device, token_repo, utc_now
    from evidence.identity import canonical_actor, canonical_officer_no

    with errors():
        pattern = settings_for(data_dir).officer_no_pattern
        number = canonical_officer_no(officer, pattern=pattern)
        name = canonical_actor(serial)
    with opened(data_dir) as ledger, errors():
        assignment = register_device(ledger, name, number, actor="cli")
        repo = token_repo(ledger)
        now = utc_now()
        for old in repo.list():
            if old.role == "device" and old.name == name and old.revoked_at is None:
                repo.revoke(old.id, now=now)  # one live credential per device
        token, _ = repo.issue(name=name, role="device", now=now)
    out(token)
    out(f"记录仪 {name} 已分配给警号 {assignment.officer_no}；上传凭据只显示这一次 "
        "(the credential is shown only now; an earlier one is revoked)", err=True)


@devices_app.command("revoke")
def devices_revoke(serial: Annotated[str, typer.Argument(help="the recorder's serial")],
                   data_dir: DataDir = None) -> None:
    """Revoke the recorder's upload credential at once."""
    from api.compose import token_repo, utc_now

    with opened(data_dir) as ledger, errors():
        repo = token_repo(ledger)
        live = [t for t in repo.list()
                if t.role == "device" and t.name == serial and t.revoked_at is None]
        for t in live:
            repo.revoke(t.id, now=utc_now())
    out(f"记录仪 {serial} 的上传凭据已吊销（{len(live)} 个）")
