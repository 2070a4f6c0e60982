"""``liuhen units`` and ``liuhen users``: the bureau's unit tree and its people's accounts
(docs/access.md). Every change is an ``account_changed`` ledger entry whose actor is
``cli:<login name>`` of whoever ran the command.

Roles: ``--role`` may be repeated or given as a comma list (``--role officer,leader``); the
Chinese names 民警, 领导, 法制, 管理员 are accepted too. A password is read from standard input
with ``--password-stdin`` (one line), never from the command line, where ``ps`` would show it.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import DataDir, errors, opened
from api.console import out

if TYPE_CHECKING:
    from access.accounts import Accounts

units_app = typer.Typer(no_args_is_help=True, help="单位（市局 → 分局 → 派出所/大队/中队）units")
users_app = typer.Typer(no_args_is_help=True,
                        help="账号 accounts of people: 警号, 姓名, 单位, 角色")


def _actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return "cli:" + "".join(c for c in who if c.isalnum() or c in "-_.")[:40]


@contextmanager
def _accounts(data_dir: Path | None) -> Iterator[Accounts]:
    from api.compose import accounts

    with opened(data_dir) as ledger, errors():
        yield accounts(ledger)


@units_app.command("add")
def units_add(
    code: Annotated[str, typer.Argument(help="12 位单位代码 unit code, e.g. 110101000000")],
    name: Annotated[str, typer.Argument(help="单位名称 unit name")],
    parent: Annotated[str | None, typer.Option("--parent", help="上级单位代码")] = None,
    data_dir: DataDir = None,
) -> None:
    """Add a unit under an existing parent (the root 市局 has none)."""
    with _accounts(data_dir) as acc:
        unit = acc.add_unit(code, name, parent=parent, actor=_actor())
    where = f"，上级 {unit.parent}" if unit.parent else "（根单位）"
    out(f"已添加单位 {unit.code} {unit.name}{where} (unit added)")


@units_app.command("list")
def units_list(data_dir: DataDir = None) -> None:
    """List units: code, name, parent."""
    with _accounts(data_dir) as acc:
        for unit in acc.repo.units():
            out(f"{unit.code}\t{unit.name}\t{unit.parent or '-'}")


def _password(stdin: bool) -> str | None:
    if not stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


Role = Annotated[list[str], typer.Option(
    "--role", help="officer（民警）, leader（领导）, auditor（法制）, admin（管理员）; repeat or "
    "comma-separate")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin",
                                             help="read the password from standard input")]


@users_app.command("add")
def users_add(
    officer_no: Annotated[str, typer.Argument(metavar="警号", help="officer number")],
    *,
    name: Annotated[str, typer.Option("--name", help="姓名")],
    unit: Annotated[str, typer.Option("--unit", help="所属单位代码")],
    role: Role,
    password_stdin: PasswordStdin = False,
    audit_unit: Annotated[str | None, typer.Option(
        "--audit-unit", help="法制: the unit whose subtree they audit (default: their own)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add a person's account."""
    from access.accounts import roles_zh

    password = _password(password_stdin)
    with _accounts(data_dir) as acc:
        account = acc.add_user(officer_no, name=name, unit=unit, roles=role, password=password,
                               actor=_actor(), audit_unit=audit_unit)
    out(f"已添加账号 {account.officer_no} {account.name}，单位 {account.unit}，角色 "
        f"{roles_zh(account.roles)}" + ("" if account.has_password else "（未设密码，不能登录）")
        + " (account added)")


@users_app.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List accounts: 警号, name, unit, roles, state."""
    from access.accounts import roles_zh

    with _accounts(data_dir) as acc:
        for a in acc.repo.accounts():
            state = "已停用 disabled" if not a.active else "正常 active"
            out(f"{a.officer_no}\t{a.name}\t{a.unit}\t{roles_zh(a.roles)}\t{state}")


@users_app.command("disable")
def users_disable(officer_no: Annotated[str, typer.Argument(metavar="警号")],
                  data_dir: DataDir = None) -> None:
    """Disable an account: it can no longer sign in, and its sessions end at once."""
    with _accounts(data_dir) as acc:
        account = acc.disable(officer_no, actor=_actor())
    out(f"已停用账号 {account.officer_no} {account.name}，其会话已全部结束 (account disabled)")


@users_app.command("enable")
def users_enable(officer_no: Annotated[str, typer.Argument(metavar="警号")],
                 data_dir: DataDir = None) -> None:
    """Enable a disabled account again."""
    with _accounts(data_dir) as acc:
        account = acc.enable(officer_no, actor=_actor())
    out(f"已启用账号 {account.officer_no} {account.name} (account enabled)")


@users_app.command("roles")
def users_roles(officer_no: Annotated[str, typer.Argument(metavar="警号")], role: Role,
                data_dir: DataDir = None) -> None:
    """Replace a person's roles (the new ones apply to their next request)."""
    from access.accounts import roles_zh

    with _accounts(data_dir) as acc:
        account = acc.set_roles(officer_no, role, actor=_actor())
    out(f"{account.officer_no} 的角色现为 {roles_zh(account.roles)} (roles changed)")


@users_app.command("passwd")
def users_passwd(officer_no: Annotated[str, typer.Argument(metavar="警号")],
                 data_dir: DataDir = None) -> None:
    """Set a password, read from standard input (one line); clears a lockout."""
    password = sys.stdin.readline().rstrip("\r\n")
    with _accounts(data_dir) as acc:
        account = acc.set_password(officer_no, password, actor=_actor())
    out(f"已设置 {account.officer_no} 的密码 (password set)")


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(help="CSV: 警号,姓名,单位,角色 (header row first)")],
    data_dir: DataDir = None,
) -> None:
    """Add accounts from a CSV file (UTF-8); every row is checked before any is added."""
    from evidence.errors import NotFoundError
    from evidence.identity import InvalidInputError

    with errors():
        try:
            text = file.read_text("utf-8")
        except FileNotFoundError as exc:
            raise NotFoundError(f"文件 {file} 不存在 (no such file)") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"文件 {file} 不是 UTF-8 编码 (not UTF-8)") from exc
    with _accounts(data_dir) as acc:
        added = acc.import_csv(text, actor=_actor())
    out(f"已导入 {len(added)} 个账号 (imported {len(added)} accounts)")


@users_app.command("sessions")
def users_sessions(
    officer_no: Annotated[str, typer.Argument(metavar="警号")],
    revoke: Annotated[bool, typer.Option("--revoke", help="end every open session")] = False,
    data_dir: DataDir = None,
) -> None:
    """List a person's sessions (id, started, last seen, ended); ``--revoke`` ends them all."""
    with _accounts(data_dir) as acc:
        account = acc.account(officer_no)
        if revoke:
            ended = acc.revoke_sessions(account.officer_no, actor=_actor())
            out(f"已结束 {account.officer_no} 的 {ended} 个会话 (ended {ended} sessions)")
            return
        for s in acc.sessions.list(account.officer_no):
            state = (f"已结束 {s.ended_at.isoformat()} {s.ended_reason}" if s.ended_at
                     else "进行中 open")
            out(f"{s.id}\t{s.created_at.isoformat()}\t{s.last_seen_at.isoformat()}\t{state}")


login_app = typer.Typer()


@login_app.command("login")
def login(cert: Annotated[Path, typer.Option("--cert", help="本人 SM2 证书 the officer's "
                                             "certificate (PEM)", exists=True, dir_okay=False)],
          key: Annotated[Path, typer.Option("--key", help="证书私钥 its SM2 key (PKCS#8 PEM, "
                                            "as openssl genpkey writes)", exists=True,
                                            dir_okay=False)],
          bureau: Annotated[str, typer.Option("--bureau", help="局端 URL, e.g. "
                                              "https://liuhen.example-bureau")]) -> None:
    """Sign in at the bureau with an SM2 certificate (challenge–response, docs/access.md §9)
    and print the session's token (send it as ``Authorization: Bearer``) on stdout."""
    from api.compose import certificate_sign_in

    with errors():
        answer = certificate_sign_in(bureau, cert_pem=cert.read_text("ascii", "replace"),
                                     key_pem=key.read_bytes())
        out(f"已登录 signed in: {answer['officer_no']} {answer['name']}，会话至 "
            f"{answer['expires_at']}", err=True)
        out(str(answer["token"]))
