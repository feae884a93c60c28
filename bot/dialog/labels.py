"""Button labels kept whole: a long question is reworded shorter, and cut only at a word, with '…'."""

from __future__ import annotations

MAX_LABEL = 64  # characters: Telegram shows 64 of a button's text, Zalo 100 (bot/channels)

# Shorter wordings people read the same way, tried in order until the label fits.
_SHORTER = (
    (" có được hưởng khuyến công không?", " được hỗ trợ không?"),
    (" có thuộc đối tượng khuyến công không?", " có thuộc khuyến công?"),
    ("liên hiệp hợp tác xã", "liên hiệp HTX"),
    ("Hợp tác xã", "HTX"),
    ("hợp tác xã", "HTX"),
    ("doanh nghiệp nhỏ và vừa", "DN nhỏ và vừa"),
    ("thành phố trực thuộc trung ương", "thành phố trung ương"),
    ("Khuyến công", "KC"),
    ("khuyến công", "KC"),
)


def button_label(text: str, limit: int = MAX_LABEL) -> str:
    """The text as a button shows it: whole when it fits, else reworded, else cut after a whole word with '…'."""
    label = " ".join(text.split())
    for long, short in _SHORTER:
        if len(label) <= limit:
            return label
        label = label.replace(long, short)
    if len(label) <= limit:
        return label
    cut = label[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:–-")
    return cut + "…"
