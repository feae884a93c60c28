"""Thin commands over the library (design §4.1). Heavy modules load lazily, per command."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import ValidationError

    from bot.eligibility import Assessment
    from bot.evaluation.shared import Measured
    from bot.faq import Answer, FaqIndex
    from bot.knowledge import Knowledge
    from bot.places import Gazetteer
    from bot.staff.accounts import Account, AccountBook

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


DAY_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]  # as officers write a day, and as ISO: both accepted


def common_options(func: F) -> F:
    """--db and --knowledge, taken by every command."""
    func = click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path),
        default=None,
        help="SQLite file or postgresql:// URL (default: KHUYENCONG_DB, else ./data/khuyencong.db)",
    )(func)
    func = click.option(
        "--knowledge",
        "knowledge",
        type=click.Path(path_type=Path),
        default=None,
        help="knowledge folder (default: ./knowledge)",
    )(func)
    return func


def _knowledge_dir(knowledge: Path | None) -> Path:
    from bot.config import Settings

    return knowledge or Settings().khuyencong_knowledge


def _fail(message: str) -> NoReturn:
    click.echo(f"Lỗi: {message}", err=True)
    sys.exit(2)


class _Commands(click.Group):
    """Click's own usage errors said as design §4.1 wants bad input said: one Vietnamese line naming it, exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as wrong:  # raised while a subcommand reads its options, inside this call
            _fail(_usage_line(wrong))


def _usage_line(wrong: click.UsageError) -> str:
    """'since: cần ngày dạng ngày/tháng/năm …', and the like."""
    if isinstance(wrong, click.MissingParameter) and wrong.param is not None:
        return f"{_named(wrong.param)}: thiếu giá trị (xem --help)"
    if isinstance(wrong, click.NoSuchOption):
        return f"{wrong.option_name[:40]}: không có tùy chọn này (xem --help)"
    if isinstance(wrong, click.BadParameter) and wrong.param is not None:
        name, kind = _named(wrong.param), getattr(wrong.param, "type", None)
        if isinstance(kind, click.Choice):
            return f"{name}: chọn một trong {', '.join(map(str, kind.choices))} (xem --help)"
        if isinstance(kind, click.DateTime):
            return f"{name}: cần ngày dạng ngày/tháng/năm, ví dụ 01/12/2026 (xem --help)"
        return f"{name}: giá trị không hợp lệ (xem --help)"
    return "lệnh hoặc tùy chọn không hợp lệ (xem khuyencong --help)"


def _named(param: click.Parameter) -> str:
    """An option as typed, without its dashes ('format' for --format, whose parameter is 'fmt')."""
    long = [o for o in param.opts if o.startswith("--")]
    return long[0][2:] if long else str(param.name)


@click.group(cls=_Commands)
def main() -> None:
    """Trợ lý khuyến công: eligibility, support lines and FAQ for rural industrial facilities."""
    from bot.files import UMASK

    os.umask(UMASK)  # the database, backups, exports and caches hold personal data: owner-only from the start


# --- check -----------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="print the assessment as JSON (design §4.3)")
@click.option(
    "--date", "on_date", type=click.DateTime(DAY_FORMATS), default=None, help="decide as of this day (default: today)"
)
@common_options
def check(file: Any, as_json: bool, on_date: dt.datetime | None, db: Path | None, knowledge: Path | None) -> None:
    """Assess one profile (JSON, design §4.2) read from FILE ('-' for stdin).

    Example: khuyencong check profile.json --json
    """
    from bot.eligibility import Profile

    try:
        data = json.loads(file.read(2_000_000))
    except json.JSONDecodeError as exc:
        _fail(f"dữ liệu không phải JSON hợp lệ (dòng {exc.lineno}, cột {exc.colno})")
    except (ValueError, RecursionError):  # bad UTF-8, a 5,000-digit number, 50,000 nested brackets
        _fail("dữ liệu không phải JSON hợp lệ")
    if not isinstance(data, dict):
        _fail('hồ sơ phải là một đối tượng JSON, ví dụ {"legal_form": "household_business", …}')
    from pydantic import ValidationError

    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        _fail(validation_message(exc))
    assessment = _assessor(knowledge, db).assess(profile, on_date.date() if on_date else None)
    if as_json:
        click.echo(json.dumps(assessment.model_dump(exclude_none=False), ensure_ascii=False, indent=2))
    else:
        click.echo(render_assessment(assessment))


_BOUNDS = {
    "greater_than_equal": ("ge", "không được nhỏ hơn"),
    "greater_than": ("gt", "phải lớn hơn"),
    "less_than_equal": ("le", "không được lớn hơn"),
    "less_than": ("lt", "phải nhỏ hơn"),
}


def validation_message(exc: ValidationError) -> str:
    """One short Vietnamese line naming the first bad field."""
    err = exc.errors()[0]
    name = _shown(".".join(str(p) for p in err["loc"]) or "hồ sơ")
    kind, given = err["type"], _shown(err.get("input"))
    if kind == "extra_forbidden":
        return f"trường không được hỗ trợ: {name}"
    if kind == "missing":
        return f"thiếu trường bắt buộc: {name}"
    if kind in ("literal_error", "enum"):
        return f"giá trị của trường {name} không hợp lệ ({given})"
    if kind == "string_unicode":
        return f"trường {name} chứa ký tự không hợp lệ"
    if kind.endswith(("_type", "_parsing")) or kind in ("int_from_float", "bool_type"):
        return f"trường {name} sai kiểu dữ liệu ({given})"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"giá trị của trường {name} {words} {err.get('ctx', {}).get(bound)} ({given})"
    return f"giá trị của trường {name} không hợp lý ({given})"


def _shown(value: Any) -> str:
    """A value or field name as quoted in an error line: short, one line, control and lone surrogates escaped."""
    text = f"'{value}'" if isinstance(value, str) and value.isprintable() else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _assessor(knowledge: Path | None, db: Path | None = None) -> Any:
    """The Assessor over the knowledge, with the commune profiles staff saved in --db over its files."""
    from bot.eligibility import Assessor
    from bot.profiles import merged
    from bot.storage.profiles import read_saved

    loaded = _load(knowledge)
    loaded.localities = merged(loaded.localities, read_saved(_db_path(db)))
    return Assessor(loaded)


def _load(knowledge: Path | None, cross_check: bool = True) -> Knowledge:
    from bot.knowledge import load_knowledge
    from bot.knowledge_errors import KnowledgeError

    try:
        return load_knowledge(_knowledge_dir(knowledge), cross_check)
    except KnowledgeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def render_assessment(a: Assessment) -> str:
    """The assessment as short Vietnamese text for a person at a terminal."""
    from bot.render import assessment_text

    return assessment_text(a)


# --- ask -------------------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": True})  # a question may start with '-': "-2+3 là gì"
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print the answer as JSON (design §4.5)")
@common_options
def ask(question: tuple[str, ...], as_json: bool, db: Path | None, knowledge: Path | None) -> None:
    """Answer one question from the FAQ.

    Example: khuyencong ask "hkd co dc ho tro may moc ko"
    """
    answer = faq_index(knowledge, db).ask(" ".join(question))
    if as_json:
        click.echo(json.dumps(answer.as_json(), ensure_ascii=False))
    else:
        click.echo(render_answer(answer))


def faq_index(knowledge: Path | None, db: Path | None = None) -> FaqIndex:
    """The FAQ index, cached beside the database so that `ask` starts fast."""
    from bot.faq import load_index
    from bot.knowledge_errors import KnowledgeError

    root = _knowledge_dir(knowledge)
    try:
        from bot.storage.factory import is_postgres

        path = _db_path(db)
        return load_index(root, None if is_postgres(path) else path.parent / "cache")
    except KnowledgeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def _db_path(db: Path | None) -> Path:
    """--db, else the setting: a SQLite file, or a postgresql:// URL (bot.storage.factory reads it back)."""
    from bot.config import Settings

    return db or Settings().khuyencong_db


def _missing(path: Path) -> bool:
    """A SQLite file that is not there (a PostgreSQL database is never created by a command that only reads)."""
    from bot.storage.factory import is_postgres

    return not is_postgres(path) and not path.exists()


def render_answer(answer: Answer) -> str:
    """An FAQ answer as text: the answer, its source, and close questions."""
    from bot.render import cited

    lines = [cited(answer.answer, answer.citation, answer.status)]
    if answer.alternatives:
        lines.append("Có thể bà con muốn hỏi:")
        lines += [f"  • {alt.question}" for alt in answer.alternatives]
    return "\n".join(lines)


# --- kb --------------------------------------------------------------------------------


@main.group()
def kb() -> None:
    """Knowledge base commands."""


@kb.command("check")
@common_options
def kb_check(db: Path | None, knowledge: Path | None) -> None:
    """Validate knowledge/ and dialogs/; exit 1 naming every problem by file and field."""
    from bot.checks import dialog_problems
    from bot.config import Settings
    from bot.flows import load_dialogs
    from bot.knowledge_errors import KnowledgeError

    loaded = _load(knowledge)
    try:
        problems = dialog_problems(loaded, load_dialogs(Settings().khuyencong_dialogs))
    except KnowledgeError as exc:
        problems = exc.problems
    if problems:
        click.echo("\n".join(str(p) for p in problems), err=True)
        sys.exit(1)
    click.echo(
        f"Kiến thức hợp lệ: {len(loaded.sectors.sectors)} ngành, {len(loaded.support_lines.lines)} nội dung hỗ trợ, "
        f"{len(loaded.documents.documents)} giấy tờ, {len(loaded.faq.entries)} câu hỏi, "
        f"{len(loaded.localities)} kế hoạch địa phương; hội thoại hợp lệ."
    )
    _profile_warnings(loaded, db)


def _profile_warnings(loaded: Knowledge, db: Path | None) -> None:
    """Communes whose profile (file, or saved on the dashboard in --db) lacks a phone or whose plan expired."""
    from bot.knowledge import vn_today
    from bot.profiles import merged, profile_warnings
    from bot.storage.profiles import read_saved

    saved = read_saved(_db_path(db))
    loaded.localities = merged(loaded.localities, saved)
    found = profile_warnings(loaded, vn_today(), [s.ward_code for s in saved if s.ward_code is not None])
    if found:
        click.echo(f"Cảnh báo ({len(found)}, không phải lỗi):")
        click.echo("\n".join(f"• {w}" for w in found))


@kb.command("eval")
@click.argument("file", type=click.Path(exists=True, path_type=Path), default=Path("tests/data/faq_eval.yaml"))
@click.option("--show-errors", is_flag=True, help="list the questions answered wrongly")
@common_options
def kb_eval(file: Path, show_errors: bool, db: Path | None, knowledge: Path | None) -> None:
    """Measure FAQ top-1 accuracy and the out-of-scope refusal rate on an evaluation set."""
    from bot.evaluation.faq import evaluate, load_eval_set

    result = evaluate(faq_index(knowledge, db), load_eval_set(file))
    _report(result, show_errors)


@kb.command("eval-understanding")
@click.argument("file", type=click.Path(path_type=Path), default=Path("tests/data/understanding_eval.yaml"))
@click.option("--show-errors", is_flag=True, help="list each wrong intent, missed and wrong fact")
@common_options
def kb_eval_understanding(file: Path, show_errors: bool, db: Path | None, knowledge: Path | None) -> None:
    """Measure understanding of single messages: intent accuracy, precision and recall per fact kind."""
    from bot.config import Settings
    from bot.evaluation.understanding import evaluate, load_cases
    from bot.flows import load_dialogs
    from bot.understanding import Understander

    cases = _read_set(load_cases, file)
    loaded = _load(knowledge)
    gazetteer = _gazetteer(loaded)
    understander = Understander(loaded, load_dialogs(Settings().khuyencong_dialogs), gazetteer)
    result = evaluate(understander, gazetteer, cases)
    _report(result, show_errors)


@kb.command("eval-case")
@click.argument("file", type=click.Path(path_type=Path), default=Path("tests/data/case_questions.yaml"))
@click.option("--show-errors", is_flag=True, help="list each answer missing a fact or saying what it must not")
@common_options
def kb_eval_case(file: Path, show_errors: bool, db: Path | None, knowledge: Path | None) -> None:
    """Measure answers from the structured knowledge: the share holding every fact they must."""
    from bot.config import Settings
    from bot.dialog.case import CaseAnswers
    from bot.eligibility import Assessor
    from bot.evaluation.case import evaluate, load_questions
    from bot.flows import load_dialogs
    from bot.understanding import Understander

    today, questions = _read_set(load_questions, file)
    loaded = _load(knowledge)
    dialogs = load_dialogs(Settings().khuyencong_dialogs)
    assessor = Assessor(loaded)
    understander = Understander(loaded, dialogs, assessor.gazetteer, assessor.classifier)
    answers = CaseAnswers(loaded, assessor, dialogs.texts.case)
    result = evaluate(answers, understander, assessor.gazetteer, today, questions)
    _report(result, show_errors)


def _report(result: Measured, show_errors: bool) -> None:
    """Print an evaluation's figures, then (when asked) each case it got wrong."""
    click.echo(result.summary())
    if show_errors:
        click.echo("\n".join(result.errors))


def _read_set(loader: Callable[[Path], T], file: Path) -> T:
    """An evaluation set, or exit 2 with the one line that says what is wrong with it."""
    if not file.is_file():
        _fail(f"không thấy tệp {file}")
    try:
        return loader(file)
    except ValueError as exc:
        _fail(str(exc))


# --- chat ------------------------------------------------------------------------------


@main.command()
@click.option("--jsonl", is_flag=True, help="JSON lines on stdin/stdout (design §4.4) instead of a person")
@common_options
def chat(jsonl: bool, db: Path | None, knowledge: Path | None) -> None:
    """Chat with the assistant in the console: the whole interview, registration and FAQ.

    Example: khuyencong chat   (type the number of a choice, or free text; "thoát" to leave)
    """
    from bot.app import build
    from bot.channels.console import run_human, run_jsonl
    from bot.knowledge_errors import KnowledgeError

    try:
        app = build(db=db, knowledge=knowledge)
    except KnowledgeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        (run_jsonl if jsonl else run_human)(app.engine, sys.stdin, sys.stdout)
    finally:
        app.close()


STATUSES = ["new", "contacted", "dossier_submitted", "supported", "declined", "withdrawn"]


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "summary"]),
    required=True,
    help="csv (UTF-8 with BOM), xlsx (styled list) or summary (roll-up workbook)",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="file to write, or an existing folder: the file is then named after the commune and the day",
)
@click.option("--commune", default=None, help='a commune\'s code or name, e.g. 19405 or "Vĩnh Thủy"')
@click.option("--status", type=click.Choice(STATUSES), default=None, help="only leads with this status")
@click.option("--since", type=click.DateTime(DAY_FORMATS), default=None, help="registered on or after this day")
@common_options
def export(
    fmt: str,
    out: Path,
    commune: str | None,
    status: str | None,
    since: dt.datetime | None,
    db: Path | None,
    knowledge: Path | None,
) -> None:
    """Export leads to CSV, XLSX or the summary workbook (design §4.1).

    Example: khuyencong export --format xlsx --out dang-ky.xlsx --commune 19405 --since 2026-01-01
    """
    from contextlib import nullcontext

    from bot.files import owner_only
    from bot.staff.exports import WRITERS
    from bot.staff.store import EVERYONE, LeadQuery, StaffStore
    from bot.storage.factory import open_repository

    kb = _load(knowledge, cross_check=False)  # labels only; `kb check` and the server check the files
    gazetteer = _gazetteer(kb)
    query = LeadQuery(
        commune=_commune_code(gazetteer, commune), status=status, since=since.date().isoformat() if since else None
    )
    if out.is_dir():
        out = out / _export_name(gazetteer, fmt, query.commune)
    if not out.parent.is_dir():
        _fail(f"out: không có thư mục {out.parent}; hãy tạo thư mục trước hoặc chọn thư mục khác")
    path = _db_path(db)
    if _missing(path):  # a mistyped --db would otherwise export 0 leads from a new, empty file
        _fail(f"db: không thấy cơ sở dữ liệu {path}")
    repo = open_repository(path)
    store = StaffStore(repo)  # the dashboard's filters, for every commune
    total = store.count(EVERYONE, query)
    bar = click.progressbar(length=total, label="Đang xuất", file=sys.stderr) if total >= 5000 else nullcontext()
    with bar as progress:
        tick = progress.update if progress is not None else (lambda n: None)
        leads, followups = store.with_followups(store.iter_leads(EVERYONE, query))
        written = WRITERS[fmt](leads, out, kb, tick, followups=followups)
    owner_only(out)  # also when it overwrote an existing, readable file
    repo.log_export("cli", fmt, str(query.commune or "all"), written)
    repo.close()
    click.echo(f"Đã xuất {written} đăng ký vào {out}.")


def _export_name(gazetteer: Gazetteer, fmt: str, commune: int | None) -> str:
    """The name the dashboard gives the same download ('dang-ky-khuyen-cong_xa-binh-giang_03-12-2026.xlsx')."""
    from bot.knowledge import vn_today
    from bot.staff.exports import download_name

    place = gazetteer.place_by_code(commune) if commune else None
    return download_name(fmt, place.name if place else None, vn_today())


def _gazetteer(kb: Knowledge) -> Gazetteer:
    """The knowledge's places (3,321 units: built once per command)."""
    from bot.places import Gazetteer

    return Gazetteer({a.old: a.new for a in kb.province_aliases.aliases}, kb.units)


def _commune_code(gazetteer: Gazetteer, commune: str | None) -> int | None:
    """The commune filter as a unit code; a name must name one unit."""
    if commune is None:
        return None
    if commune.strip().isdigit():
        if gazetteer.place_by_code(int(commune)) is None:
            _fail(f"commune: không có xã/phường mã {commune.strip()}")
        return int(commune)
    found = gazetteer.resolve_text(commune)
    if found.status == "ambiguous":
        options = ", ".join(f"{p.label} ({p.code})" for p in found.candidates)
        _fail(f"có nhiều nơi tên '{commune}': {options}; hãy dùng mã xã")
    if found.place is None:
        _fail(f"không tìm thấy xã/phường '{commune}'")
    return found.place.code if found.place else None


@main.group()
def staff() -> None:
    """Staff accounts for the dashboard at /staff/."""


@staff.command("add")
@click.argument("name")
@click.option("--commune", "communes", multiple=True, help="a commune this officer sees: code or name (repeatable)")
@click.option("--all", "all_communes", is_flag=True, help="a provincial admin who sees every commune")
@click.option("--display-name", "display_name", default=None, help="the name people read, e.g. 'Nguyễn Thị Lan'")
@click.option("--telegram", type=click.IntRange(1), help="this officer's Telegram user id, for /leads /stats /export")
@click.password_option(prompt="Mật khẩu", confirmation_prompt="Nhập lại mật khẩu")
@common_options
def staff_add(
    name: str,
    communes: tuple[str, ...],
    all_communes: bool,
    display_name: str | None,
    telegram: int | None,
    password: str,
    db: Path | None,
    knowledge: Path | None,
) -> None:
    """Create (or reset) a staff account; only an argon2 hash of the password is stored.

    The dashboard's "Tài khoản cán bộ" page does the same through the same library, audited alike.
    Example: khuyencong staff add lan --commune 19405 --display-name "Nguyễn Thị Lan" --telegram 123456789
    """
    from bot.places import Gazetteer
    from bot.staff.accounts import Refused, check_display, check_login, check_password, hash_password, resolve_communes

    if not communes and not all_communes:
        _fail("cần --commune MÃ_XÃ (một hoặc nhiều) hoặc --all")
    login = name.strip()
    with _account_book(db, create=True) as book:
        try:
            codes = () if all_communes else resolve_communes(Gazetteer(), "\n".join(communes))
            hashed = hash_password(check_password(password))
            if book.by_login(login) is None:  # a new account follows the dashboard's rules; an old one keeps its name
                login = check_login(login)
            existed = book.put(login, hashed, all_communes, codes)
            if display_name is not None:
                account = book.by_login(login)
                assert account is not None
                book.set_access(None, account.id, check_display(display_name), all_communes, codes)
        except Refused as refused:
            _fail(refused.message)
        if telegram is not None:  # on Telegram the officer then sees these communes only
            book.link_telegram(login, telegram)
        scope = book.communes_text(all_communes, codes)
    if existed:
        click.echo(f"Đã đặt lại mật khẩu tài khoản '{login}' ({scope}); mọi phiên đăng nhập cũ đã kết thúc.")
    else:
        click.echo(f"Đã tạo tài khoản '{login}' ({scope}).")


@staff.command("remove")
@click.argument("name")
@common_options
def staff_remove(name: str, db: Path | None, knowledge: Path | None) -> None:
    """Delete a staff account and end its sessions.

    Example: khuyencong staff remove lan
    """
    with _account_book(db) as book:
        if not book.remove(name.strip()):
            _fail(f"không có tài khoản '{name}'")
    click.echo(f"Đã xóa tài khoản '{name}' và kết thúc mọi phiên đăng nhập của tài khoản này.")


@staff.command("logout")
@click.argument("name")
@common_options
def staff_logout(name: str, db: Path | None, knowledge: Path | None) -> None:
    """End every session of a staff account (it must sign in again).

    Example: khuyencong staff logout lan
    """
    with _account_book(db) as book:
        ended = book.end_sessions(name.strip())
    if ended is None:
        _fail(f"không có tài khoản '{name}'")
    click.echo(f"Đã kết thúc {ended} phiên đăng nhập của '{name}'.")


@staff.command("list")
@common_options
def staff_list(db: Path | None, knowledge: Path | None) -> None:
    """The staff accounts, their role, the communes each sees, and whether disabled (no passwords, no hashes).

    Example: khuyencong staff list
    """
    with _account_book(db) as book:
        accounts = book.accounts()
        lines = [f"{a.login}: {_scope(book, a)}" for a in sorted(accounts, key=lambda a: a.login)]
    click.echo("\n".join(lines) if lines else "Chưa có tài khoản cán bộ nào.")


def _scope(book: AccountBook, account: Account) -> str:
    """What an account sees, as `staff list` says it ('Xã Vĩnh Thủy, Quảng Trị', 'mọi xã'), and if it is locked."""
    scope = (
        "mọi xã"
        if account.admin
        else (book.communes_text(False, account.communes) if account.communes else "chưa có xã")
    )
    return scope + ("" if account.active else " (đã khóa)")


@contextmanager
def _account_book(db: Path | None, create: bool = False) -> Iterator[AccountBook]:
    """The accounts of the database, closed afterwards; a missing database is refused unless `create`."""
    from bot.places import Gazetteer
    from bot.staff.accounts import AccountBook
    from bot.storage.factory import open_repository

    path = _db_path(db)
    if not create and _missing(path):
        _fail(f"không thấy cơ sở dữ liệu {path}")
    repo = open_repository(path)
    try:
        yield AccountBook(repo, Gazetteer())
    finally:
        repo.close()


@main.group()
def handoff() -> None:
    """Conversations waiting for or held by staff, and staff replies in the person's own chat."""


@handoff.command("list")
@click.option("--commune", default=None, help="only this commune's (its code)")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@common_options
def handoff_list(commune: str | None, as_json: bool, db: Path | None, knowledge: Path | None) -> None:
    """Handoffs waiting for or held by staff: id, channel, commune, since, reason, last message.

    Example: khuyencong handoff list --commune 19405
    """
    from bot.staff.exports import local_time
    from bot.staff.store import EVERYONE

    code = _number("commune", commune) if commune is not None else None
    with _handoffs(db, knowledge) as handoffs:
        items = [i for i in handoffs.listed(EVERYONE, code) if i.handoff.status != "closed"]
    if as_json:
        rows = [
            {
                "id": i.handoff.id,
                "channel": i.handoff.channel,
                "commune_code": i.handoff.commune_code,
                "commune": i.handoff.commune or None,
                "since": i.handoff.at,
                "reason": i.handoff.reason,
                "status": i.handoff.status,
                "last_message": i.last_message,
            }
            for i in items
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("Không có yêu cầu gặp cán bộ nào đang chờ.")
    for i in items:
        since = local_time(i.handoff.at)
        when = since.strftime("%d/%m/%Y %H:%M") if since else ""
        last = i.last_message.replace("\n", " ")[:80]
        click.echo(
            f"Số {i.handoff.id} · {i.channel} · {i.handoff.commune or 'chưa rõ xã'} · từ {when} · {i.reason} · "
            f"{i.status} · tin nhắn cuối: “{last}”"
        )


@handoff.command("reply")
@click.argument("handoff_id", metavar="ID")
@click.argument("text")
@click.option("--as", "name", default="phụ trách", help="the officer's name as the person sees it")
@common_options
def handoff_reply(handoff_id: str, text: str, name: str, db: Path | None, knowledge: Path | None) -> None:
    """Reply to one handoff in the person's own channel (refused, exit 2, when Zalo's window is closed).

    Example: khuyencong handoff reply 3 "Chị mang sổ hộ kinh doanh lên xã sáng thứ Hai nhé." --as "Nguyễn Thị Lan"
    """
    from bot.staff.handoffs import ReplyRefused
    from bot.staff.store import EVERYONE

    number = _number("id", handoff_id)
    with _handoffs(db, knowledge) as handoffs:
        try:
            handoffs.reply(EVERYONE, number, text, name)
        except ReplyRefused as refused:
            _fail(str(refused))
    click.echo(f"Đã gửi câu trả lời cho yêu cầu số {number}.")


def _number(field: str, value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        _fail(f"{field}: cần một số, không phải '{value[:40]}'")
    return int(value)


@contextmanager
def _handoffs(db: Path | None, knowledge: Path | None) -> Iterator[Any]:
    """The handoff library over an existing database; a missing one is refused, not created."""
    from bot.staff.handoffs import Handoffs

    path = _db_path(db)
    if _missing(path):
        _fail(f"không thấy cơ sở dữ liệu {path}")
    app = _build(path, knowledge)
    try:
        yield Handoffs(app.repo, app.engine.texts.handoff, app.settings)
    finally:
        app.close()


@main.command()
@click.option("--commune", "communes", multiple=True, help="a commune's code (repeatable: several communes)")
@click.option("--text", default=None, help="the announcement, at most 1,500 characters")
@click.option("--audience", default=None, help="who: all, or key=value terms (sector, line, registered, status)")
@click.option("--link", default="", help="a link to the commune's page (https://…)")
@click.option("--deadline", default=None, help="the deadline it announces (dd/mm/yyyy or YYYY-MM-DD)")
@click.option("--urgent", is_flag=True, help="may go at night (an urgent deadline)")
@click.option("--charged", is_flag=True, default=None, help="also Zalo people 48 h–7 d after their last message")
@click.option("--zbs", is_flag=True, help="Zalo's paid template to those outside 48 h with a phone (if configured)")
@click.option("--as", "name", default="cli", help="who sends it (kept in the log)")
@click.option("--dry-run", is_flag=True, help="print the counts per channel and reason; queue nothing")
@click.option("--report", "report", default=None, help="print what became of announcement ID instead")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@common_options
def announce(
    communes: tuple[str, ...],
    text: str | None,
    audience: str | None,
    link: str,
    deadline: str | None,
    urgent: bool,
    charged: bool | None,
    zbs: bool,
    name: str,
    dry_run: bool,
    report: str | None,
    as_json: bool,
    db: Path | None,
    knowledge: Path | None,
) -> None:
    """Queue an announcement to a commune's subscribers; the worker sends it within each platform's rules.

    Example: khuyencong announce --commune 19405 --text "Xã mở đăng ký hỗ trợ máy móc đến 20/12." --dry-run
    """
    from bot.announce.cli import Options, announce_command

    given = Options(communes, text, audience, link, deadline, urgent, charged, name, dry_run, report, as_json, zbs)
    announce_command(_fail, _announce_inputs(db, knowledge), given)


def _announce_inputs(db: Path | None, knowledge: Path | None) -> tuple[Path, Knowledge]:
    path = _db_path(db)
    if not path.exists():
        _fail(f"không thấy cơ sở dữ liệu {path}")
    return path, _load(knowledge, cross_check=False)


@main.command()
@common_options
def serve(db: Path | None, knowledge: Path | None) -> None:
    """The web server: Zalo and Telegram webhooks, the web chat, /healthz (design §4.7).

    Example: khuyencong serve   (WEB_HOST, WEB_PORT and the channel settings come from .env)
    """
    from bot.server import serve as run

    run(_checked(_build(db, knowledge)))


@main.command()
@common_options
@click.option("--niceness", type=click.IntRange(0, 19), default=0, help="run at a lower CPU priority (0–19)")
@click.option("--parent", type=int, default=None, hidden=True, help="stop when this process is gone (set by serve)")
def worker(db: Path | None, knowledge: Path | None, niceness: int, parent: int | None) -> None:
    """Run the turns of the Zalo and Telegram messages the webhooks stored, and send the replies.

    `khuyencong serve` starts one itself; run this only with KHUYENCONG_WORKER=external.
    Example: khuyencong worker
    """
    from bot.worker import run

    run(_checked(_build(db, knowledge)), niceness, parent)


@main.command()
@common_options
def telegram(db: Path | None, knowledge: Path | None) -> None:
    """Telegram by long polling, for a deployment without a public URL.

    Example: khuyencong telegram   (needs TELEGRAM_BOT_TOKEN)
    """
    from bot.app import OrderedHandler
    from bot.channels.common import Delivery
    from bot.channels.telegram import build_application
    from bot.logs import setup_logging

    app = _build(db, knowledge)
    if not app.settings.telegram_bot_token:
        _fail("chưa có TELEGRAM_BOT_TOKEN trong .env")
    setup_logging(app.settings)
    handler = OrderedHandler(app.engine)
    delivery = Delivery(handler, app.settings.web_rate_per_minute)
    from bot.staff.notify import StaffCommands
    from bot.staff.relay import StaffRelay

    commands = StaffCommands(app, handler, app.settings.staff_ids)
    tg = build_application(
        app.settings.telegram_bot_token or "",
        app.settings.telegram_api_base,
        delivery,
        app.repo,
        True,
        commands,
        relay=StaffRelay(app, handler),
        background=lambda: _staff_background(app, handler, delivery, tg.bot),
        per_second=app.settings.telegram_per_second,
    )
    try:
        tg.run_polling(drop_pending_updates=False)
    finally:
        handler.close()
        app.close()


async def _staff_background(app: Any, handler: Any, delivery: Any, bot: Any) -> Any:
    """Long polling does what `serve` does: notices of new handoffs, the idle sweep, reminders, announcements."""
    from bot.announce.delivery import sender_with
    from bot.announce.reminders import ReminderLoop
    from bot.server import HandoffSweep
    from bot.staff.handoffs import Handoffs
    from bot.staff.notify import StaffNotices

    notices = StaffNotices(app.settings, app)
    await notices.start()
    sweep = HandoffSweep(Handoffs(app.repo, app.engine.texts.handoff, app.settings), handler, lambda: None, notices)
    await sweep.start()
    announcements = sender_with(app, delivery, None, bot)  # run only one of `telegram` and `serve`'s worker
    await announcements.start()
    reminders = ReminderLoop(app, delivery)  # a subscriber's deadline reminders and status messages
    await reminders.start()

    async def stop() -> None:
        await reminders.stop()
        await announcements.stop()
        await sweep.stop()
        await notices.stop()

    return stop


@main.group()
def db() -> None:
    """The database: backup, copy and retention."""


@db.command("backup")
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--db", "db_file", type=click.Path(path_type=Path), default=None, help="SQLite file (default: KHUYENCONG_DB)"
)
def db_backup(target: Path, db_file: Path | None) -> None:
    """Copy the database with SQLite's online backup; safe while `serve` runs.

    Example: khuyencong db backup /var/backups/khuyencong/2026-11-22.db
    """
    import sqlite3

    from bot.storage.factory import is_postgres
    from bot.storage.sqlite import SqliteRepository

    source = _db_path(db_file)
    if is_postgres(source):
        _fail("cơ sở dữ liệu PostgreSQL được sao lưu bằng pg_dump (xem docs/deploy.md)")
    if not source.exists():
        _fail(f"không thấy cơ sở dữ liệu {source}")
    if target.resolve() == source.resolve():
        _fail("tệp sao lưu phải khác tệp đang dùng")
    target.parent.mkdir(parents=True, exist_ok=True)
    repo = SqliteRepository(source)
    try:
        count = repo.backup(target)
    except sqlite3.Error as exc:
        _fail(f"sao lưu không thành công: {exc}")
    finally:
        repo.close()
    click.echo(f"Đã sao lưu vào {target} ({count} đăng ký).")


@db.command("copy")
@click.option("--to", "to", required=True, help="the empty target: postgresql://… URL or a new SQLite file")
@click.option("--json", "as_json", is_flag=True, help="counts and checksums as JSON")
@common_options
def db_copy(to: str, as_json: bool, db: Path | None, knowledge: Path | None) -> None:
    """Copy every table of --db into an empty database (SQLite → PostgreSQL, or → a SQLite file), then check it.

    Example: khuyencong db copy --to postgresql://khuyencong@localhost/khuyencong
    """
    from bot.storage.copying import CopyFailed, CopyRefused, copy_database
    from bot.storage.factory import database_url, is_postgres

    source = _db_path(db)
    if _missing(source):
        _fail(f"db: không thấy cơ sở dữ liệu {source}")
    try:
        report = copy_database(database_url(source) if is_postgres(source) else str(source), to)
    except CopyRefused as exc:
        _fail(str(exc))
    except CopyFailed as exc:
        click.echo(f"Lỗi: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(_copy_table(report))
    if not report.ok:
        wrong = ", ".join(t.table for t in report.tables if not t.ok)
        click.echo(f"Lỗi: bản chép không khớp với nguồn ({wrong}); đã hoàn tác, đích không giữ dữ liệu nào.", err=True)
        sys.exit(1)


def _copy_table(report: Any) -> str:
    """The tables with rows, counted on both sides, and whether each matches; then the leads' checksum."""
    shown = [t for t in report.tables if t.source_rows or t.target_rows or not t.ok]
    lines = [f"Chép từ {report.source} sang {report.target}:", f"{'Bảng':<28}{'Nguồn':>9}{'Đích':>9}  Kiểm tra"]
    for t in shown:
        lines.append(f"{t.table:<28}{t.source_rows:>9}{t.target_rows:>9}  {'khớp' if t.ok else 'không khớp'}")
    if empty := len(report.tables) - len(shown):
        lines.append(f"(và {empty} bảng trống ở cả hai bên, khớp)")
    leads = report.of("leads")
    lines.append(f"Mã kiểm tra các đăng ký: {'khớp' if leads.ok else 'không khớp'} ({leads.target_sum[:16]}…)")
    if report.ok:
        lines.append(f"Xong. Bước tiếp: đặt KHUYENCONG_DB={report.target} rồi khởi động lại (xem docs/deploy.md).")
    return "\n".join(lines)


@db.command("purge")
@common_options
def db_purge(db: Path | None, knowledge: Path | None) -> None:
    """Erase personal data older than KHUYENCONG_RETENTION_MONTHS (`serve` also does it daily).

    Example: khuyencong db purge
    """
    app = _build(db, knowledge)
    try:
        done = app.purge()
    finally:
        app.close()
    click.echo(
        f"Đã xóa dữ liệu quá hạn lưu ({app.settings.khuyencong_retention_months} tháng): {done['leads']} đăng ký, "
        f"{done['consents']} bản đồng ý, {done['chats']} cuộc trò chuyện, {done['handoffs']} yêu cầu gặp cán bộ, "
        f"{done['questions']} câu hỏi chưa trả lời được."
    )


def _build(db: Path | None, knowledge: Path | None) -> Any:
    from bot.app import build
    from bot.knowledge_errors import KnowledgeError

    try:
        return build(db=db, knowledge=knowledge)
    except KnowledgeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def _checked(app: Any) -> Any:
    """The app, once the stored platform tokens open with KHUYENCONG_SECRET_KEY (else exit 2, in Vietnamese)."""
    from bot.channels.zalo_auth import check_key
    from bot.secret_box import SecretKeyError

    try:
        check_key(app.repo, app.settings.khuyencong_secret_key or None, app.settings.zalo_refresh_token)
    except SecretKeyError as exc:
        app.close()
        _fail(str(exc))
    return app


if __name__ == "__main__":  # pragma: no cover
    main()
