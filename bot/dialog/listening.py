"""Listening: the facts of a whole message fill the interview's slots, whichever step is pending."""

from __future__ import annotations

from typing import Any

from bot.dialog.context import Context
from bot.eligibility import vnd
from bot.flows import Step
from bot.places import province_title, unit_word
from bot.storage import Conversation
from bot.text import find_phone, fold
from bot.understanding import Slots, Understanding, slots_of

# Slots of the eligibility interview (and of the profile) a message may fill at any point.
CONTACT_NOT_KEPT = "contact_not_kept"  # a phone number was typed before consent (the number itself is not kept)
TAKEN = frozenset(
    ("legal_form", "activity", "workers", "revenue_vnd", "capital_vnd", "place", "craft_village", "needs")
) | {"export", "owner_flags", "local_raw_material"}
# Answers that depend on another: changing the key forgets them, so they are asked again where they apply.
DEPENDENT = {"legal_form": ("workers", "revenue_vnd"), "place": ("craft_village",), "activity": ("sector",)}
# A product said with its own verb is shown as said ('trồng nấm', 'sấy tiêu'), others after 'làm' ('làm gốm').
_VERBS = ("làm", "sản xuất", "chế biến", "trồng", "nuôi", "sấy", "đóng gói", "khai thác", "dệt", "đan", "rang", "xay")
MAKING = tuple(fold(v) + " " for v in _VERBS)  # folded: 'lam ', 'say '
# A trade or a service said with its own verb or noun ('bán tạp hóa', 'homestay'): never after 'làm' either.
_TRADES: tuple[str, ...] = (
    "bán",
    "buôn",
    "kinh doanh",
    "mở",
    "homestay",
    "dịch vụ",
    "cho thuê",
    "sửa",
    "chạy",
    "nhà nghỉ",
    "quán",
)
_TRADES += ("cửa hàng", "tiệm", "chở", "vận tải", "thợ", "nấu", "đúc", "rèn", "hàn", "chăn nuôi")
INFERRED = "inferred"  # slot names filled from the person's own words rather than the question asked
FREE_TEXT = ("text", "name")
_OWNERS = {
    "women_owned": "chủ là phụ nữ",
    "ethnic_minority_owned": "chủ là người dân tộc thiểu số",
}  # steps whose answer is whatever is typed


_AREA = {True: "xã thuộc địa bàn khó khăn", False: "xã không thuộc địa bàn khó khăn", None: "chưa rõ địa bàn khó khăn"}


class Listener:
    """Reads a message whole and keeps every fact it states in the conversation's slots."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def hear(self, text: str, step: Step | None = None) -> Understanding:
        """What the message says, read for the step pending (if any)."""
        return self.ctx.understander.understand(text, step)

    def slots(self, u: Understanding) -> Slots:
        """The slot values the message states."""
        return slots_of(u, self.ctx.assessor.gazetteer)

    def take(
        self, conv: Conversation, u: Understanding, skip: str | None = None, replace: bool = False, asked: bool = False
    ) -> list[str]:
        """Keep the facts stated (all but the `skip` slot); return the slots that changed.

        An empty slot is filled; one already answered changes only on a correction ('không phải, là HTX'),
        so a word read by chance later on never overwrites an answer. In a question (`asked`) a support line
        is the topic asked about ('hỗ trợ máy móc được bao nhiêu?'), not a need stated.
        """
        found = self.slots(u)
        if not conv.slots.get("consent_id") and find_phone(u.text[:2000]):
            # Nothing personal is kept before consent; only that a number was said, so that asking for it after
            # 'Đồng ý' says why it is asked again.
            conv.slots[CONTACT_NOT_KEPT] = True
        replace = replace or u.intent == "correction" or any(i.intent == "correction" for i in u.intents)
        changed = []
        for slot, value in found.values.items():
            if slot not in TAKEN or slot == skip or conv.slots.get(slot) == value or (asked and slot == "needs"):
                continue
            if slot in conv.slots and not replace:
                continue
            if slot in conv.slots:
                for dependent in DEPENDENT.get(slot, ()):
                    conv.slots.pop(dependent, None)
            conv.slots[slot] = value
            changed.append(slot)
        if "place" in changed:  # the old unit word or province typed, said back with the place (or forgotten)
            conv.slots["place_was"] = found.values.get("place_was") or {}
        if found.place_choices and "place" not in conv.slots:
            conv.slots["place_choices"] = list(found.place_choices)[:8]  # asked as buttons when the place is due
            if found.values.get("place_district"):  # 'huyện Lạng Giang': said when the choice is asked
                conv.slots["place_district"] = found.values["place_district"]
        if "province_hint" in found.values and "place" not in conv.slots:
            conv.slots["province_hint"] = found.values["province_hint"]
        if changed:
            conv.slots.pop("assessment", None)
            conv.slots[INFERRED] = sorted({*conv.slots.get(INFERRED, []), *changed})
        return changed

    def states_case(self, u: Understanding) -> int:
        """How many of legal form, product and place the message states: two are enough to start a check."""
        found = self.slots(u)
        said = {s for s in ("legal_form", "activity", "place") if s in found.values}
        return len(said | ({"place"} if found.place_choices else set()))

    def restated(self, conv: Conversation, u: Understanding) -> bool:
        """Whether the message states facts, every one of them as already kept ('hộ kinh doanh' again)."""
        found = {k: v for k, v in self.slots(u).values.items() if k in TAKEN}
        return bool(found) and all(conv.slots.get(k) == v for k, v in found.items())

    def line(self, conv: Conversation) -> str:
        """What was understood, in one short line: 'hộ kinh doanh, làm nước mắm, xã Vĩnh Thủy (Quảng Trị)'."""
        slots, steps = conv.slots, {s.slot: s for s in self.ctx.dialogs.flows["eligibility"].steps}
        parts = []
        form = _label(steps["legal_form"], slots.get("legal_form"))
        if form:
            parts.append(form.lower() if form != "Liên hiệp HTX" else form)
        if slots.get("activity"):
            parts.append(self.product(str(slots["activity"])))
        if slots.get("workers") is not None:
            parts.append(f"{slots['workers']} lao động")
        if isinstance(slots.get("revenue_vnd"), int):
            parts.append(f"doanh thu khoảng {vnd(slots['revenue_vnd'])}")
        if isinstance(slots.get("capital_vnd"), int):
            parts.append(f"vốn khoảng {vnd(slots['capital_vnd'])}")
        place = slots.get("place") or {}
        if place.get("commune"):
            commune = str(place["commune"])
            note = self.renamed(conv)
            parts.append(f"{commune[:1].lower()}{commune[1:]} ({place.get('province')}{'; ' + note if note else ''})")
        if "difficult_area" in slots:  # asked for mining only: the answer decides, so it is shown to correct
            parts.append(_AREA[slots["difficult_area"]])
        parts += [_OWNERS[f] for f in slots.get("owner_flags") or [] if f in _OWNERS]
        if slots.get("export"):
            parts.append("có xuất khẩu")
        if slots.get("local_raw_material"):
            parts.append("dùng nguyên liệu địa phương")
        needs = [self.need_name(n) for n in slots.get("needs") or [] if n]
        if needs:
            parts.append("cần " + ", ".join(n[:1].lower() + n[1:] for n in needs))
        return ", ".join(parts)

    def renamed(self, conv: Conversation) -> str:
        """'Quảng Nam nay thuộc TP Đà Nẵng, xã Điện Bàn nay là phường Điện Bàn', or '' when nothing changed."""
        was, place = conv.slots.get("place_was") or {}, conv.slots.get("place") or {}
        found = self.ctx.assessor.gazetteer.place_by_code(int(place["code"])) if place.get("code") else None
        if found is None or was.get("code") != found.code:  # said of another place than the one kept now
            return ""
        texts, parts = self.ctx.texts, []
        if was.get("province"):
            new = province_title(found.province)
            parts.append(texts.place_renamed_province.format(old=was["province"], new=new))
        if was.get("district"):
            bare = found.name.split(" ", 1 if found.type != "dac_khu" else 2)[-1]
            parts.append(texts.place_district.format(district=was["district"], now=f"{unit_word(found)} {bare}"))
        if was.get("unit"):
            bare = found.name.split(" ", 1 if found.type != "dac_khu" else 2)[-1]
            now = f"{unit_word(found)} {bare}"
            parts.append(texts.place_renamed_unit.format(typed=f"{was['unit']} {bare}", now=now))
        return ", ".join(parts)

    def need_name(self, code: str) -> str:
        """A support line as a person reads it: the step's own label, else the line's name."""
        step = self.ctx.dialogs.flows["eligibility"].step("needs")
        label = _label(step, code) if step else None
        if label:
            return label
        line = next((ln for ln in self.ctx.kb.support_lines.lines if ln.code == code), None)
        return line.name if line else "khác"

    def product(self, activity: str) -> str:
        """The product as typed, shown with the lexicon's spelling when the person typed without diacritics."""
        found = self.ctx.assessor.classifier.classify(activity)
        shown = activity.strip()
        if found.matched and shown.isascii():
            shown = found.matched
        said = shown.lower()  # whole words: 'bánh tráng' is no 'bán'
        return shown if any(said == v or said.startswith(v + " ") for v in _VERBS + _TRADES) else f"làm {shown}"


def _label(step: Step | None, value: Any) -> str | None:
    if step is None:
        return None
    return next((c.label for c in step.choices if c.value == value), None)
