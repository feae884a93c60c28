"""Word templates of the registration forms: checked on upload, rendered per lead in a sandboxed Jinja.

Why docxtpl (LGPL-2.1, over python-docx, MIT): an officer types `{{ hoten }}` in Word, and Word splits the
braces over several runs; docxtpl joins them again and repeats table rows (`{%tr for … %}`), which python-docx
alone does not. It renders a form in about 30 ms. It is used as a library, unchanged.

An uploaded template runs no code of its own: only the fields of form_fields.FIELDS, a loop over `nhucau`,
plain conditions and a few text filters are allowed (checked on the parsed template, before any render), and
the render happens in Jinja's sandbox with autoescape on (a facility named "<w:p>" stays text).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from docx import Document
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from bot.staff.form_fields import FIELDS, FORMS, LISTS, ROW_FIELDS, sample_fields

MAX_BYTES = 2 * 1024 * 1024  # a province's form with its emblem is well under this
MAX_UNPACKED = 20 * 1024 * 1024  # the parts unzipped: a zip bomb stops here
MAX_PARTS = 300
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_TEXT_PARTS = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
)
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")  # docxtpl renders these too
_FILTERS = {"upper", "lower", "title", "capitalize", "trim", "default", "d", "e", "escape"}
_LOOP = {"index", "index0", "first", "last", "length", "revindex"}
_EXTERNAL = re.compile(rb'TargetMode\s*=\s*"External"')
_HYPERLINK = re.compile(rb'Type\s*=\s*"[^"]*/hyperlink"')

# What an officer reads when an upload is refused: what is wrong and what to do; nothing changes.
NOT_DOCX = "Tệp này không phải tệp Word (.docx). Hãy lưu mẫu trong Word dạng “Word Document (.docx)” rồi tải lên lại."
TOO_LARGE = "Tệp mẫu quá lớn (tối đa 2 MB). Hãy bớt hình ảnh trong mẫu rồi tải lên lại."
UNSAFE = "Tệp mẫu có macro, liên kết tới tệp bên ngoài hoặc phần không an toàn. Hãy lưu lại thành tệp .docx thường."
SYNTAX = "Mẫu có chỗ viết ô điền chưa đúng (ví dụ thiếu “}}” hoặc “{% endfor %}”). Hãy sửa trong Word rồi tải lên lại."
NO_FIELD = "Mẫu chưa có ô điền nào (ví dụ {{ hoten }}). Hãy thêm ô điền theo danh sách bên dưới."
FORBIDDEN = (
    "Mẫu có lệnh trợ lý không cho dùng. Chỉ dùng ô điền (ví dụ {{ hoten }}), bảng lặp "
    "{%tr for n in nhucau %} … {%tr endfor %} và điều kiện {% if … %}."
)
BROKEN = "Không điền thử được mẫu này. Hãy kiểm tra các ô điền và bảng lặp ({%tr for n in nhucau %}) rồi tải lên lại."


class TemplateRefused(ValueError):
    """An uploaded template that cannot be used; the message is for the officer."""


@dataclass(frozen=True)
class Checked:
    """A template that passed every check, and the fields it uses."""

    body: bytes
    fields: frozenset[str]


def environment() -> SandboxedEnvironment:
    """The Jinja environment every form is rendered in: sandboxed, escaping, strict about unknown names."""
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    env.filters = {name: env.filters[name] for name in _FILTERS if name in env.filters}
    env.globals.clear()
    env.tests = {name: env.tests[name] for name in ("defined", "none") if name in env.tests}
    return env


def reference(form: str) -> bytes:
    """The bundled reference layout of a form (Mẫu 01a or 01b), marked as such."""
    return resources.files("bot.staff").joinpath("form_templates", f"mau-{form}.docx").read_bytes()


def render(body: bytes, context: dict[str, Any]) -> bytes:
    """A filled form: the template rendered with the lead's fields."""
    template = DocxTemplate(io.BytesIO(body))
    template.render(context, jinja_env=environment(), autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def check(body: bytes) -> Checked:
    """Refuse a template that is no .docx, too large, unsafe, or uses anything but the allowed fields."""
    if len(body) > MAX_BYTES:
        raise TemplateRefused(TOO_LARGE)
    _check_package(body)
    try:
        template = DocxTemplate(io.BytesIO(body))
        template.init_docx()
        texts = list(_sources(template))
    except Exception as exc:  # python-docx and lxml raise many kinds on a damaged file
        raise TemplateRefused(NOT_DOCX) from exc
    env = environment()
    used: set[str] = set()
    for text in texts:
        try:
            tree = env.parse(text)
        except TemplateSyntaxError as exc:
            raise TemplateRefused(SYNTAX) from exc
        used |= _allowed(tree)
    if not used:
        raise TemplateRefused(NO_FIELD)
    try:
        Document(io.BytesIO(render(body, sample_fields())))  # the filled form must open again
    except Exception as exc:  # docxtpl, Jinja, lxml and python-docx each raise their own kinds
        raise TemplateRefused(BROKEN) from exc
    return Checked(body, frozenset(used))


def _check_package(body: bytes) -> None:
    """A Word document's zip: sane sizes, no macros, no DTD, no link to a file elsewhere (a remote template)."""
    try:
        package = zipfile.ZipFile(io.BytesIO(body))
        infos = package.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise TemplateRefused(NOT_DOCX) from exc
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise TemplateRefused(NOT_DOCX)
    if len(infos) > MAX_PARTS or sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise TemplateRefused(TOO_LARGE)
    try:
        kinds = package.read("[Content_Types].xml")
        for info in infos:
            data = package.read(info) if info.filename.endswith((".xml", ".rels")) else b""
            if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
                raise TemplateRefused(UNSAFE)
            external = [m for m in re.findall(rb"<Relationship\b[^>]*>", data) if _EXTERNAL.search(m)]
            if any(not _HYPERLINK.search(m) for m in external):
                raise TemplateRefused(UNSAFE)
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise TemplateRefused(NOT_DOCX) from exc
    if b"vbaProject" in kinds or b"macroEnabled" in kinds or any("vbaProject" in n for n in names):
        raise TemplateRefused(UNSAFE)
    if _MAIN.encode() not in kinds:
        raise TemplateRefused(NOT_DOCX)


def _sources(template: DocxTemplate) -> Iterator[str]:
    """Every text docxtpl will render: the body, headers, footers and footnotes (as it patches them), properties."""
    yield template.patch_xml(template.get_xml())
    for part in template.docx.part.package.parts:
        if part.content_type in _TEXT_PARTS:
            yield template.patch_xml(part.blob.decode("utf-8"))
    props = template.docx.core_properties
    for name in _PROPERTIES:
        yield getattr(props, name) or ""


def _allowed(tree: nodes.Template) -> set[str]:
    """The fields a parsed template uses; anything beyond fields, one loop, conditions and text filters is refused."""
    used: set[str] = set()
    loops: set[str] = {"loop"}
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name in LISTS and isinstance(loop.target, nodes.Name)):
            raise TemplateRefused(_unknown(loop.iter))
        loops.add(loop.target.name)
    for node in tree.find_all(nodes.Node):
        _check_node(node, loops, used)
    return used


_PLAIN = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.If,
    nodes.For,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.CondExpr,
    nodes.Concat,
)


def _check_node(node: nodes.Node, loops: set[str], used: set[str]) -> None:
    if isinstance(node, nodes.Name):
        if node.ctx == "store" and node.name in loops:
            return
        if node.name in FIELDS:
            used.add(node.name)
        elif node.name not in loops:
            raise TemplateRefused(_unknown(node.name))
    elif isinstance(node, nodes.Getattr):
        base = node.node
        names = _LOOP if isinstance(base, nodes.Name) and base.name == "loop" else ROW_FIELDS
        if not (isinstance(base, nodes.Name) and base.name in loops and node.attr in names):
            raise TemplateRefused(_unknown(node))
    elif isinstance(node, nodes.Filter | nodes.Test):
        known = _FILTERS if isinstance(node, nodes.Filter) else {"defined", "none"}
        if node.name not in known or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise TemplateRefused(FORBIDDEN)
        if any(not isinstance(a, nodes.Const) for a in node.args):
            raise TemplateRefused(FORBIDDEN)
    elif not isinstance(node, _PLAIN):
        raise TemplateRefused(FORBIDDEN)


def _dotted(node: nodes.Node) -> str | None:
    """'hoten', 'n.noidung': a field as typed; None for anything else."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    return None


def _unknown(node: nodes.Node | str) -> str:
    """The message for a field the assistant does not have, naming it as typed."""
    what = node if isinstance(node, str) else _dotted(node)
    if what is None:
        return FORBIDDEN
    shown = what if len(what) <= 40 else what[:40] + "…"
    return f"Mẫu dùng ô “{shown}”, trợ lý không có ô điền này. Chỉ dùng các ô điền trong danh sách bên dưới."


def form_name(form: str) -> str:
    """'Mẫu 01b – Thông tin chung của đơn vị'."""
    return FORMS[form]
