"""Whether a message is a person's name ('Nguyễn Văn Bình'), which no FAQ entry answers."""

from __future__ import annotations

from bot.text import fold

# The common Vietnamese surnames, folded: nearly every name starts with one.
SURNAMES = frozenset((
    "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho", "ngo", "duong",
    "ly", "dinh", "mai", "trinh", "truong", "lam", "luong", "luu", "cao", "ta", "ha", "kieu", "quach", "thai", "tang",
    "chu", "lai", "doan", "giang", "tieu", "ton", "ong", "mac", "khuc", "trieu", "thach",
))  # fmt: skip
# Words a name never holds but a question does ('Lê phí bao nhiêu', 'Hồ sơ gồm gì', 'Mai có lớp không').
_NOT_IN_A_NAME = frozenset((
    "khong", "ko", "k", "kg", "hong", "hok", "hem", "gi", "sao", "nao", "bao", "nhieu", "dau", "ai", "chua", "duoc",
    "dc", "co", "the", "nhu", "la", "lam", "ho", "tro", "can", "muon", "xin", "hoi", "cho", "toi", "em", "minh", "bi",
    "ve", "o", "tai", "may", "so", "ky", "phi", "bien", "vay", "von", "ban", "mua", "nop", "gui",
))  # fmt: skip
_MIN_WORDS, _MAX_WORDS = 2, 5
_MAX_WORD = 7  # letters: 'nguyen', 'huynh', 'truong', 'phuong'


def looks_like_name(text: str) -> bool:
    """A surname then given names only, two to five words, no digits and no word of a question."""
    words = fold(text).replace(",", " ").replace(".", " ").split()
    if not _MIN_WORDS <= len(words) <= _MAX_WORDS or words[0] not in SURNAMES:
        return False
    if not all(w.isalpha() and len(w) <= _MAX_WORD for w in words):
        return False
    return not _NOT_IN_A_NAME.intersection(words[1:])  # 'Hồ', 'Lâm' are surnames too
