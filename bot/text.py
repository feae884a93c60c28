"""Vietnamese text handling: normal form, tone placement, folding, abbreviations, numbers, phones."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from rapidfuzz import fuzz, process

# The five tone marks as combining characters; other marks (circumflex, breve, horn) belong to vowels.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VOWELS = set("aeiouyăâêôơư")
_MODIFIED = set("ăâêôơư")
_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"\w+", re.UNICODE)


def nfc(text: str) -> str:
    """NFC form with stray and doubled whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


@lru_cache(maxsize=65536)
def _place_tone(word: str) -> str:
    """Move the tone mark of one syllable to its canonical vowel (classic placement: hòa, thủy, quý)."""
    decomposed = unicodedata.normalize("NFD", word)
    tone = next((c for c in decomposed if c in _TONES), None)
    if tone is None:
        return word
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    target = _tone_index(base.lower())
    if target is None:
        return word
    return unicodedata.normalize("NFC", base[: target + 1] + tone + base[target + 1 :])


def _tone_index(syllable: str) -> int | None:
    """Index of the vowel that carries the tone in a syllable (lowercase, tone-less, NFC)."""
    start = 0
    if syllable.startswith("qu") or (syllable.startswith("gi") and len(syllable) > 2 and syllable[2] in _VOWELS):
        start = 2
    while start < len(syllable) and syllable[start] not in _VOWELS:
        start += 1
    end = start
    while end < len(syllable) and syllable[end] in _VOWELS:
        end += 1
    if start == end:
        return None
    cluster = syllable[start:end]
    modified = [i for i, ch in enumerate(cluster) if ch in _MODIFIED]
    if modified:
        return start + modified[-1]
    if end < len(syllable) or len(cluster) == 1:  # closed syllable: the last vowel
        return end - 1
    return start + (1 if len(cluster) == 3 else 0)


def canonical(text: str) -> str:
    """NFC, collapsed spaces and one tone placement, so 'hoà'/'hòa' and 'qúy'/'quý' compare equal."""
    return _WORD.sub(lambda m: _place_tone(m.group(0)), nfc(text))


def _bare(text: str) -> str:
    """Lowercase with every mark gone and đ→d; punctuation and spacing untouched."""
    lowered = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lowercase ASCII form for matching: no diacritics, đ→d, punctuation to spaces, single spaces."""
    return _SPACES.sub(" ", _NON_ALNUM.sub(" ", _bare(text))).strip()


def expand(folded: str, abbreviations: Mapping[str, str]) -> str:
    """Replace whole-token abbreviations in folded text; the mapping must be folded too."""
    return " ".join(abbreviations.get(tok, tok) for tok in folded.split())


class PhraseRewriter:
    """Writes phrases of the same meaning one way ('kiểu gì', 'làm sao' → 'như thế nào') in folded text."""

    def __init__(self, table: Mapping[str, str]) -> None:
        pairs = sorted(((fold(k), fold(v)) for k, v in table.items() if fold(k)), key=lambda kv: -len(kv[0]))
        self._table = dict(pairs)
        alternatives = "|".join(re.escape(k) for k, _ in pairs)
        self._pattern = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])") if pairs else None

    def __call__(self, folded: str) -> str:
        """The folded text with each known phrase replaced, longest phrases first."""
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self._table[m.group(0)], folded)


def fold_abbreviations(raw: Mapping[str, str]) -> dict[str, str]:
    """Fold both sides of an abbreviation table, as expand() expects."""
    return {fold(k): fold(v) for k, v in raw.items() if fold(k)}


# --- numbers ---------------------------------------------------------------------------

_DIGITS = {
    "khong": 0,
    "mot": 1,
    "mots": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "lam": 5,
    "nham": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
}
_SCALE_WORDS = {"muoi", "chuc", "tram", "nghin", "ngan"}
_TAIL_WORDS = {"le", "linh", "ruoi"}
_MONEY_UNITS = {
    "ty": 10**9,
    "ti": 10**9,
    "trieu": 10**6,
    "tr": 10**6,
    "cu": 10**6,
    "nghin": 10**3,
    "ngan": 10**3,
    "k": 10**3,
    "dong": 1,
    "d": 1,
    "vnd": 1,
}
_COUNT_UNITS = {"nguoi", "lao", "cong", "nhan", "tho", "ld", "nv", "thanh", "vien", "dua", "chiec", "cai"}
_NUMERAL = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")
_MAX_LEN = 200  # longer text is not a quantity someone typed; parsing it is wasted work


def _numeral(raw: str) -> float:
    """'1.500.000' → 1500000; '1,5' → 1.5; '2.5' → 2.5; '1,200' → 1200."""
    head, *rest = re.split(r"[.,]", raw)
    if rest and all(len(g) == 3 for g in rest) and (len(rest) > 1 or len(head) <= 3):
        return float(head + "".join(rest))  # thousands separators
    if len(rest) == 1:
        return float(f"{head}.{rest[0]}")
    return float(head + "".join(rest))


def _words_value(tokens: list[str]) -> float | None:
    """Value of a run of Vietnamese number words ('hai chục' → 20, 'mười hai' → 12, 'ba trăm' → 300)."""
    total, current = 0.0, 0.0
    for tok in tokens:
        if tok in _DIGITS:
            current += _DIGITS[tok]
        elif tok == "muoi" and current == 0:
            current = 10  # 'mười' on its own
        elif tok in ("muoi", "chuc"):
            current *= 10
        elif tok == "tram":
            current = (current or 1) * 100
        elif tok in ("nghin", "ngan"):
            total, current = total + (current or 1) * 1000, 0.0
        elif tok == "ruoi":
            current += 0.5
        elif tok not in _TAIL_WORDS:
            return None
    return total + current


def _tokens(text: str) -> list[str]:
    # '500tr' and '2ty' glue the unit to the number: the token pattern splits them apart.
    return _TOKEN.findall(_bare(text[:_MAX_LEN]))


def _value_at(toks: list[str], i: int, units: set[str] | dict[str, int]) -> tuple[float | None, int]:
    """A number starting at toks[i] and how many tokens it spans.

    Number words count only when they cannot be ordinary words: they hold a scale word, are followed
    by a unit, or are the whole message ('làm nước mắm' is not 'five', 'năm người' is).
    """
    if _NUMERAL.fullmatch(toks[i]):
        return _numeral(toks[i]), 1
    run = 0
    while i + run < len(toks) and (toks[i + run] in _DIGITS or toks[i + run] in _SCALE_WORDS | _TAIL_WORDS):
        run += 1
    if not run or toks[i] in _TAIL_WORDS:
        return None, 0
    words = toks[i : i + run]
    followed = i + run < len(toks) and toks[i + run] in units
    if not (followed or _SCALE_WORDS & set(words) or run == len(toks)):
        return None, 0
    return _words_value(words), run


def parse_number(text: str) -> float | None:
    """The first quantity in the text, digits or words, ignoring units ('12 người' → 12, 'hai chục' → 20)."""
    toks = _tokens(text)
    for i in range(len(toks)):
        value, _ = _value_at(toks, i, _COUNT_UNITS | set(_MONEY_UNITS))
        if value is not None:
            return value
    return None


def parse_count(text: str) -> int | None:
    """A whole count of people or things ('khoảng 12 người', 'hai chục') or None."""
    value = parse_number(text)
    if value is None or value != int(value):
        return None
    return int(value)


def parse_money(text: str) -> int | None:
    """An amount in VND ('khoảng 2 tỷ', '1,5 tỷ', '500tr', '800 triệu', '2 tỷ rưỡi', '1 tỷ 2')."""
    toks = _tokens(text)
    for i in range(len(toks)):
        value, used = _value_at(toks, i, _MONEY_UNITS)
        if value is None:
            continue
        if i + used < len(toks) and toks[i + used] in _MONEY_UNITS:
            return _money_from(toks, i)
    plain = next((t for t in toks if _NUMERAL.fullmatch(t)), None)
    return int(_numeral(plain)) if plain else None  # bare digits are đồng: '2500000000'


def _money_from(toks: list[str], i: int) -> int:
    """Sum 'value unit' pairs from toks[i]: '1 tỷ 200 triệu', '2 tỷ rưỡi', '1 tỷ 2' (= 1,2 tỷ)."""
    total, last_scale = 0.0, 1
    while i < len(toks):
        value, used = _value_at(toks, i, _MONEY_UNITS)
        if value is None:
            break
        scale = _MONEY_UNITS.get(toks[i + used]) if i + used < len(toks) else None
        if scale is None or scale >= last_scale > 1:
            if scale is None and last_scale > 1:  # the tail counts in fractions of the last unit
                total += value * last_scale / 10 ** len(str(int(value)))
            break
        total += value * scale
        last_scale = scale
        i += used + 1
        if i < len(toks) and toks[i] == "ruoi":
            total += scale / 2
            i += 1
    return round(total)


# --- phone numbers ----------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"[\s.\-()/]")
# The mobile blocks in use (03[2-9], 05[25689], 07[06-9], 08[1-9], 09x): a 10-digit number elsewhere reaches nobody
# (bench/phones.py found 054…, 074…, 080… and the pre-2017 area code 053… taken for mobiles).
_MOBILE = re.compile(r"0(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9\d)\d{7}")
_LANDLINE = re.compile(r"02\d{9}")
_COUNTRY = ("+84", "0084", "84")
_PHONE_SPAN = re.compile(r"\+?\d[\d\s.\-()]{7,16}\d")


def national_phone(phone: str) -> str:
    """'+84912345678' → '0912345678', the way people here write and dial it."""
    return "0" + phone[3:] if phone.startswith("+84") else phone


def parse_phone(text: str) -> str | None:
    """A Vietnamese phone number in +84 form, or None; old 11-digit mobile numbers (01x…) are refused."""
    if len(text) > _MAX_LEN:
        return None
    compact = _PHONE_CHARS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in _COUNTRY:
        rest = compact[len(prefix) :]
        if compact.startswith(prefix) and (prefix != "84" or len(compact) in (11, 12)):
            compact = "0" + rest.removeprefix("0")  # '+84 0912…', '+84 (0) 912…': the 0 kept by habit
            break
    if _MOBILE.fullmatch(compact) or _LANDLINE.fullmatch(compact):
        return "+84" + compact[1:]
    return None


def national_at_start(text: str) -> str:
    """Text whose leading '+84 …' number is written the national way ('+84 935 222 444, …' → '0935222444, …')."""
    match = _PHONE_SPAN.match(text) if text.startswith("+") else None
    phone = parse_phone(match.group(0)) if match else None
    return national_phone(phone) + text[match.end() :] if match and phone else text


def find_phone(text: str) -> str | None:
    """The first phone number inside a longer message ('sđt em 0912 345 678 nhé')."""
    for match in _PHONE_SPAN.finditer(text[: _MAX_LEN * 5]):
        phone = parse_phone(match.group(0)) or _first_within(match.group(0))
        if phone:
            return phone
    return None


def _first_within(span: str) -> str | None:
    """The first number in a run of digit groups that holds two ('0912345678 0987654321'), longest first."""
    groups = span.split()
    for start in range(len(groups)):
        for end in range(len(groups), start, -1):
            phone = parse_phone(" ".join(groups[start:end]))
            if phone:
                return phone
    return None


# --- typo correction -------------------------------------------------------------------


class Speller:
    """Corrects tokens that are not in a vocabulary to the closest known token ('khuyen cog' → 'cong')."""

    def __init__(self, vocabulary: set[str], cutoff: float = 80.0, min_length: int = 3) -> None:
        self._vocabulary = vocabulary
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(vocabulary):  # sorted: ties resolve the same way whatever the hash seed
            self._by_length.setdefault(len(word), []).append(word)
        self._cutoff = cutoff
        self._min_length = min_length
        self._cache: dict[str, str] = {}

    def correct(self, tokens: list[str]) -> list[str]:
        """Tokens with unknown words of min_length letters or more replaced by their closest known word."""
        return [self._word(tok) for tok in tokens]

    def _word(self, token: str) -> str:
        if token in self._vocabulary or len(token) < self._min_length or token.isdigit():
            return token
        if token not in self._cache:
            if len(self._cache) > 50_000:  # bounded: hostile input must not grow memory without end
                self._cache.clear()
            # Only words of about the same length can be a typo of it; this also keeps the lookup fast.
            pool = [w for n in range(len(token) - 1, len(token) + 2) for w in self._by_length.get(n, ())]
            best = process.extractOne(token, pool, scorer=fuzz.ratio, score_cutoff=self._cutoff)
            self._cache[token] = best[0] if best else token
        return self._cache[token]


def ascii_int(text: str, digits: int = 15) -> int | None:
    """The number written in ASCII digits (at most `digits` of them), else None: '²' and '٣' are digits to
    str.isdigit() but not to int(), and a 5,000-digit number is not an answer."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= digits else None


def storable(text: str) -> str:
    """Text both databases can store: a lone surrogate (JSON allows '\\ud800') becomes '?', NUL is dropped."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
