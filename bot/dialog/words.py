"""Recognising what a typed message is before reading it as an answer: a command, a menu entry, a question."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from bot.answers import AnswerReader
from bot.faq import FaqIndex
from bot.flows import Dialogs
from bot.text import fold

# Question words, folded and padded: three words or more with one of them make a question.
_QUESTION_MARKERS = (
    " khong ",
    " ko ",
    " k ",
    " gi ",
    " j ",
    " bao nhieu ",
    " the nao ",
    " sao ",
    " o dau ",
    " khi nao ",
    " nhu nao ",
    " ntn ",
    " bn ",
    " co duoc ",
    " duoc khong ",
    " la ai ",
    # 'mấy' is 'máy' (a machine) without diacritics: a question only before a count ('mấy suất', 'mấy lượt').
    " may suat ",
    " may luot ",
    " may co so ",
    " may lan ",
    " may trieu ",
)
# 'chưa đăng ký gì (cả)', 'không có gì': after a negation, a closing 'gì' means 'nothing', it asks nothing.
_NOTHING = re.compile(r" (?:chua|khong|ko|chang)(?: \w+){0,3} gi(?: ca| het| thoi| nua)? $")
# Words with a question word inside that ask nothing: 'máy sao chè' (a tea-roasting machine), 'sao chè' (roasting).
_NOT_QUESTIONS = (" may sao ", " sao che ", " sao tam ")


def looks_like_question(text: str) -> bool:
    """A question mark, or three words or more with a question word ('hkd có được không', 'bao nhiêu')."""
    said = f" {fold(text)} "
    for words in _NOT_QUESTIONS:
        said = said.replace(words, " ; ")
    if text.rstrip().endswith("?"):
        return True
    said = _NOTHING.sub(" ", said.replace(",", " "))
    if len(said.split()) < 3:
        return False
    return any(m in said for m in _QUESTION_MARKERS)


MAX_STOP_WORDS = 8  # a longer message is a question or a story, not a request to stop
# Folded patterns of 'stop sending': 'thôi đừng gửi nữa', 'không nhận tin nữa', 'hủy thông báo', 'đừng nhắn nữa'.
_STOP = (
    re.compile(
        r"\b(?:dung|thoi|khong|ko|k|chang) (?:(?:dung|can|muon|gui|nhan) )*(?:gui|nhan)(?: tin| thong bao| them)? nua\b"
    ),
    re.compile(r"\b(?:huy|ngung|tat)(?: nhan| dang ky nhan)? (?:tin|thong bao)\b"),
    re.compile(r"\b(?:dung|thoi|bo) nhan (?:tin|thong bao)\b"),
    re.compile(r"\b(?:dung|thoi|khong|ko) gui (?:tin|thong bao)\b"),
    re.compile(r"\bdung gui\b"),
)


def wants_to_stop(text: str) -> bool:
    """A short message asking to receive no more news, in any wording, with or without diacritics."""
    said = " ".join(re.sub(r"[^\w ]", " ", fold(text)).split())
    return len(said.split()) <= MAX_STOP_WORDS and any(p.search(said) for p in _STOP)


def means_news(text: str) -> bool:
    """'nhận tin' typed without marks is 'nhận tin' (news), unless the marks say 'nhắn tin' (to message)."""
    return "nhắn" not in text.lower()


LABEL_SLIP_MIN = 10  # shorter text is too easily near a label by chance
LABEL_SLIP_SCORE = 90  # 'co duoc ho tro gi' (a question) stays below 'co nhung ho tro gi' (the menu entry)


class Words:
    """The global commands and menu entries as people type them, with or without courtesy around them."""

    def __init__(self, dialogs: Dialogs, reader: AnswerReader, faq: FaqIndex) -> None:
        self.reader, self.faq = reader, faq
        menu = dialogs.menu
        self._commands = {fold(s): c.id for c in menu.commands for s in [*c.synonyms, c.label, *c.slash]} | {
            c.lstrip("/"): cmd.id for cmd in menu.commands for c in cmd.slash
        }
        self._menu_items = {reader.normal(s): i.action for i in menu.items for s in [i.label, *i.synonyms]}
        self._labels = [(fold(i.label), i.action) for i in menu.items]
        # Longest first, so 'cho tôi hỏi' goes before 'cho tôi'.
        self._before = sorted({fold(w) + " " for w in menu.courtesy_before}, key=len, reverse=True)
        self._after = sorted({" " + fold(w) for w in menu.courtesy_after}, key=len, reverse=True)

    def is_opening(self, text: str) -> bool:
        """Nothing, a greeting, or a request for the menu or help: what a welcome answers."""
        topic = self.faq.topic(text) if text else None
        return not text or self.command_of(text) in ("menu", "help") or (topic is not None and topic[0] == "chao_hoi")

    def command_of(self, text: str) -> str | None:
        """The global command a message names ('/start', 'menu', 'cho tôi xóa dữ liệu ạ'), if any."""
        if text.startswith("/"):
            return self._commands.get(text[1:].split()[0].split("@")[0].lower() if text[1:].split() else "")
        said = fold(text)
        found = self._commands.get(said) or self._commands.get(self._bare_request(said))
        if found == "subscribe" and not means_news(text):
            return None
        return found or ("unsubscribe" if wants_to_stop(text) else None)

    def menu_item_of(self, text: str) -> str | None:
        """The menu entry a message names ('đăng ký', 'giấy tờ'), if any."""
        # Courtesy goes before abbreviations are expanded: 'ạ' folds to 'a', which would read as 'anh'.
        said = fold(text)
        return (
            self._menu_items.get(self.reader.normal(said))
            or self._menu_items.get(self.reader.normal(self._bare_request(said)))
            or self._label_with_slip(self._bare_request(said))
        )

    def _label_with_slip(self, said: str) -> str | None:
        """A button's label retyped with a slip ('kiem tra dieu kein'): whole labels only, the first letter kept."""
        if len(said) < LABEL_SLIP_MIN:
            return None
        scored = [(fuzz.ratio(said, label), action) for label, action in self._labels if label[0] == said[0]]
        score, action = max(scored, default=(0.0, None))
        return action if score >= LABEL_SLIP_SCORE else None

    def _bare_request(self, said: str) -> str:
        """A folded request without the courtesy around it ('cho tôi hỏi', 'tôi muốn', 'ạ', 'với')."""
        trimmed = True
        while trimmed:
            trimmed = False
            for word in self._before:
                if said.startswith(word):
                    said, trimmed = said[len(word) :], True
            for word in self._after:
                if said.endswith(word):
                    said, trimmed = said[: -len(word)], True
        return said
