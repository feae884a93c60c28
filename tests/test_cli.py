"""The commands of design §4.1 as a person or a script uses them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import KNOWLEDGE, ROOT

PROFILE = {
    "legal_form": "household_business",
    "activity": "chế biến chè búp khô",
    "province": "Quảng Trị",
    "commune": "Vinh Thuy",
    "needs": ["advanced_machinery"],
}


def run(args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--knowledge", str(KNOWLEDGE)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_check_json_follows_the_assessment_contract() -> None:
    code, out, _ = run(["check", "-", "--json", "--date", "2026-06-01"], json.dumps(PROFILE))
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "eligible",
        "subject",
        "sector",
        "size",
        "locality",
        "priority",
        "priority_reasons",
        "reasons",
        "support_lines",
        "documents",
        "next_steps",
        "questions",
    }
    assert data["eligible"] is True and data["subject"] == "rural_industrial_facility"
    assert data["sector"]["code"] == "agro_food_processing" and data["sector"]["matched"]
    assert data["locality"] == {
        "commune": "Xã Vĩnh Thủy",
        "province": "Quảng Trị",
        "code": 19405,
        "type": "xa",
        "centrally_run": False,
    }
    assert data["support_lines"][0]["funding"] == "commune"
    assert {"code", "name", "funding", "share_max", "cap_vnd", "citation", "status"} <= set(data["support_lines"][0])
    assert all(r["citation"] for r in data["reasons"])


def test_check_reads_a_file_and_prints_vietnamese(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(PROFILE), encoding="utf-8")
    code, out, _ = run(["check", str(path), "--date", "2026-06-01"])
    assert code == 0
    assert "đủ điều kiện" in out and "Xã Vĩnh Thủy" in out and "Căn cứ" in out


@pytest.mark.parametrize(
    ("stdin", "field"),
    [
        ('{"legal_form": "household_business", "activity": "chè", "colour": 1}', "colour"),
        ('{"activity": "chè"}', "legal_form"),
        ('{"legal_form": "household_business", "activity": "chè", "workers": "mười"}', "workers"),
        ('{"legal_form": "household_business", "activity": "chè", "workers": -3}', "workers"),
        ('{"legal_form": "household_business", "activity": "chè", "revenue_vnd": 1e30}', "revenue_vnd"),
        (
            '{"legal_form": "household_business", "activity": "chè", "local_raw_material_share": 60}',
            "local_raw_material_share",
        ),
        ('{"legal_form": "shop", "activity": "chè"}', "legal_form"),
        ('{"legal_form": "household_business", "activity": "chè", "area_flags": ["rich"]}', "area_flags"),
    ],
)
def test_bad_profile_exits_2_naming_the_field(stdin: str, field: str) -> None:
    code, out, err = run(["check", "-", "--json"], stdin)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and field in err


@pytest.mark.parametrize("stdin", ["{not json", "[1, 2]", "", '"text"'])
def test_malformed_json_exits_2_politely(stdin: str) -> None:
    code, out, err = run(["check", "-"], stdin)
    assert code == 2 and out == "" and err.startswith("Lỗi:")


def test_ask_json_follows_the_faq_contract() -> None:
    code, out, _ = run(["ask", "hkd co dc ho tro ko", "--json"])
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"matched", "faq_id", "score", "answer", "citation", "alternatives"}
    assert data["matched"] is True and data["faq_id"] == "ho_kinh_doanh" and data["citation"]


def test_ask_refuses_out_of_scope_politely() -> None:
    code, out, _ = run(["ask", "giá vàng hôm nay bao nhiêu", "--json"])
    data = json.loads(out)
    assert code == 0 and data["matched"] is False and data["faq_id"] is None and "khuyến công" in data["answer"]


def test_kb_check_passes_on_the_bundled_knowledge() -> None:
    code, out, _ = run(["kb", "check"])
    assert code == 0 and "hợp lệ" in out


def test_kb_check_exits_1_naming_every_problem(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, root)
    text = (
        (root / "documents.yaml")
        .read_text(encoding="utf-8")
        .replace("code: form_01b", "code: form_01b\n    colour: red")
    )
    (root / "documents.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["kb", "check", "--knowledge", str(root)])
    assert result.exit_code == 1 and "documents.yaml: documents[1].colour" in result.stderr


def test_chat_jsonl_answers_each_line_and_reports_bad_lines() -> None:
    lines = '{"user": "u1", "text": "htx có được hỗ trợ không"}\nnot json\n{"user": "u2", "text": "giá vàng"}\n'
    result = CliRunner().invoke(main, ["chat", "--jsonl", "--knowledge", str(KNOWLEDGE)], input=lines)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(out) == 3
    assert out[0]["user"] == "u1" and out[0]["replies"][0]["text"]
    assert "error" in out[1] and out[2]["user"] == "u2"


def test_ask_as_a_whole_process_from_the_repository() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "khuyen cong la gi", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["faq_id"] == "kc_la_gi"


def test_console_shows_buttons_as_numbers_and_takes_a_number(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["chat", "--db", str(tmp_path / "k.db"), "--knowledge", str(KNOWLEDGE)],
        input="1\n1\nlam nuoc mam\nthoát\n",
    )
    out = result.stdout
    assert result.exit_code == 0
    assert "trợ lý tự động" in out and "  1. Kiểm tra điều kiện" in out
    assert "thuộc loại nào" in out and "  1. Hộ kinh doanh" in out
    assert "sản phẩm gì" in out and "xã (phường) nào" in out


def test_jsonl_users_interleave_and_a_second_run_continues(tmp_path: Path) -> None:
    args = ["chat", "--jsonl", "--db", str(tmp_path / "k.db"), "--knowledge", str(KNOWLEDGE)]
    first = '{"user": "a", "text": "kiem tra"}\n{"user": "b", "text": "xin chao"}\n{"user": "a", "text": "htx"}\n'
    out1 = [json.loads(x) for x in CliRunner().invoke(main, args, input=first).stdout.splitlines()]
    assert [o["user"] for o in out1] == ["a", "b", "a"]
    assert all({"text", "buttons"} == set(r) for o in out1 for r in o["replies"])
    assert "sản phẩm gì" in out1[2]["replies"][-1]["text"]
    out2 = [
        json.loads(x)
        for x in CliRunner().invoke(main, args, input='{"user": "a", "text": "det tho cam"}\n').stdout.splitlines()
    ]
    assert "xã (phường) nào" in out2[0]["replies"][-1]["text"]  # the same conversation, in a new process


def test_jsonl_process_survives_lone_surrogates_and_answers_everyone_after(tmp_path: Path) -> None:
    r"""A lone surrogate ("\ud800") in an id, a text, a button or a registration answer: that line gets an error
    or a cleaned answer, and every later line, of every person, is answered (a real process, real pipes)."""
    lines = [
        '{"user": "u\\ud800", "text": "xin chào"}',
        '{"user": "a", "text": "x\\udc00in ch\\ud83dào"}',
        '{"user": "a", "button": "menu:\\udfff"}',
        *(json.dumps({"user": "b", "text": t}) for t in ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri"]),
        *(json.dumps({"user": "b", "text": t}) for t in ["may moc", "dang ky", "dong y"]),
        '{"user": "b", "text": "Lan \\ud800\\udfff\\udc00 Trần"}',  # the name, with two lone halves
        json.dumps({"user": "b", "text": "0912 345 678"}),
        '{"user": "c", "text": "xin chào"}',
    ]
    out, _ = run_jsonl(tmp_path / "k.db", lines)
    assert len(out) == len(lines)
    assert set(out[0]) == {"error"} and "user" in out[0]["error"]
    assert all(o.get("user") for o in out[1:]), out
    assert (
        "Số điện thoại" in out[-3]["replies"][-1]["text"]
        and "kiểm tra lại thông tin đăng ký" in out[-2]["replies"][-1]["text"]
    )
    assert "trợ lý tự động" in out[-1]["replies"][0]["text"]  # the last person, after all that, is answered


def run_jsonl(db: Path | str, lines: list[str]) -> tuple[list[dict[str, Any]], str]:
    """`khuyencong chat --jsonl` as a real process, fed `lines`; its output objects and its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--db", str(db), "--knowledge", str(KNOWLEDGE)],
        cwd=ROOT,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return [json.loads(x) for x in proc.stdout.splitlines()], proc.stderr


def test_click_usage_errors_are_one_vietnamese_line_naming_the_option(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    for args, field in (
        (["export", "--format", "xlsx", "--out", "x.xlsx", "--status", "moi", "--db", db], "status"),
        (["export", "--format", "xlsx", "--out", "x.xlsx", "--since", "31/02/2026", "--db", db], "since"),
        (["export", "--format", "pdf", "--out", "x", "--db", db], "format"),
        (["export", "--format", "xlsx", "--bogus", "--db", db], "--bogus"),
        (["export", "--format", "xlsx", "--db", db], "out"),
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and result.stdout == "", (args, result.output)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Lỗi: {field}:"), result.stderr
        assert "Usage" not in result.stderr and "Invalid" not in result.stderr
    assert not (tmp_path / "k.db").exists()  # nothing written
