"""What staff type about a registration, read by the chat's own parsers: the same formats, lengths and refusals.

A correction and a registration taken at the office or on the phone go through the steps of dialogs/*.yaml and
the chat's AnswerReader, so a phone, a name or a facility the chat would refuse is refused here too (formulas,
markup, lengths), and what is kept has the form the chat keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.answers import Parsed
from bot.dialog.context import Context
from bot.dialog.interview import Interview
from bot.flows import Step
from bot.storage import Conversation

MISSING = "chưa điền."
CHOOSE = "hãy chọn một mục."
UNKNOWN_PRODUCT = "chưa nhận ra sản phẩm này; hãy chọn ngành của cơ sở."
YES_NO: dict[str, bool | None] = {"yes": True, "no": False}  # the form's values; anything else: not known


@dataclass
class Reading:
    """The answers read so far, as conversation slots, and what could not be read (in Vietnamese)."""

    slots: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def step_of(ctx: Context, flow_id: str, step_id: str) -> Step:
    """A step of the bundled flows (the knowledge check makes sure they exist)."""
    step = ctx.dialogs.flows[flow_id].step(step_id)
    if step is None:
        raise LookupError(f"{flow_id}.{step_id} is missing from dialogs/")
    return step


def problem(ctx: Context, step: Step, parsed: Parsed) -> str:
    """Why an answer could not be kept, as the chat would hint it, under the step's label."""
    if parsed.guess is not None:
        return f"{step.label}: có phải “{parsed.shown}”? Xin gõ lại cho rõ."
    said = getattr(ctx.texts, parsed.hint, None) if parsed.hint else None
    text = said if isinstance(said, str) and "{" not in said else step.hint
    options = "; ".join(label for label, _ in parsed.options)
    return f"{step.label}: {for_staff(text)}" + (f" ({options})" if options else "")


def for_staff(hint: str) -> str:
    """A chat hint as an officer reads it on a form: no "bà con", no chat buttons, no chatty endings."""
    text = re.sub(r",? hoặc chọn một nút", "", hint.replace("chọn một nút, hoặc gõ", "gõ"))
    text = re.sub(r"Bà con (\w)", lambda m: m.group(1).upper(), text.strip())
    text = re.sub(r" (giúp tôi|nhé)(?=[ .,;)]|$)", "", text)
    return text


def read(ctx: Context, step: Step, text: str, reading: Reading) -> None:
    """Keep the step's answer in the slots, or say why not; an optional step may stay empty."""
    text = text.strip()
    may_be_empty = step.optional or step.at_summary  # the facility's name: the chat lets a person leave it out too
    if not text:
        if not may_be_empty:
            reading.errors.append(f"{step.label}: {MISSING}")
        return
    parsed = ctx.reader.read(step, text)
    if parsed.ok and parsed.value not in ("", None):
        reading.slots[step.slot] = parsed.value
    elif parsed.ok and may_be_empty:
        return
    else:
        reading.errors.append(problem(ctx, step, parsed))


def read_product(ctx: Context, text: str, sector: str | None, reading: Reading) -> None:
    """A product: plain text as a name is (no formula, no markup, 2-100 characters), and one the chat knows.

    A product the classifier does not know is kept when a sector is chosen, as the chat keeps it after its
    sector buttons.
    """
    step = step_of(ctx, "eligibility", "activity")
    plain = Reading()
    read(ctx, step_of(ctx, "registration", "facility"), text, plain)  # the name parser's refusals
    if plain.errors:
        reading.errors.append(f"{step.label}: {plain.errors[0].split(': ', 1)[-1]}")
        return
    parsed = ctx.reader.read(step, text)
    if parsed.ok or parsed.guess is not None or sector:
        reading.slots[step.slot] = " ".join(text.split())
        if sector:
            reading.slots["sector"] = sector
    else:
        reading.errors.append(f"{step.label}: {UNKNOWN_PRODUCT}")


def read_contact(ctx: Context, form: Mapping[str, str]) -> Reading:
    """A correction: contact name, phone and product required; the facility's name may stay empty, as in the chat."""
    reading = Reading()
    for step_id in ("name", "phone", "facility"):
        step = step_of(ctx, "registration", step_id)
        read(ctx, step, form.get(step.slot, ""), reading)
    read_product(ctx, form.get("activity", ""), None, reading)
    return reading


def read_walk_in(
    ctx: Context, interview: Interview, conv: Conversation, form: Mapping[str, str], many: Callable[[str], list[str]]
) -> Reading:
    """A registration taken at the office: the interview's steps that apply, in order, then the contact steps.

    `form` gives one value per step id (a step's slot for the contact steps), `many` the values of a
    multiple choice. The slots are filled into `conv` as the interview would fill them.
    """
    reading = Reading(slots=conv.slots)
    sector = form.get("sector", "")
    sector = sector if sector in {s.code for s in ctx.kb.sectors.sectors} else ""
    for step in ctx.dialogs.flows["eligibility"].steps:
        if not interview.applies(step, conv):
            continue
        if step.parser == "choice":
            chosen = form.get(step.id, "")
            if chosen in {c.value for c in step.choices}:
                reading.slots[step.slot] = chosen
            else:
                reading.errors.append(f"{step.label}: {CHOOSE}")
        elif step.parser == "needs":
            values = {c.value for c in step.choices} - {"none"}
            reading.slots[step.slot] = [v for v in dict.fromkeys(many(step.id)) if v in values]
        elif step.parser == "activity":
            read_product(ctx, form.get(step.id, ""), sector or None, reading)
        elif step.parser == "yes_no":  # "không rõ" is kept as the chat keeps it: no answer (None)
            reading.slots[step.slot] = YES_NO.get(form.get(step.id, ""))
        else:
            read(ctx, step, form.get(step.id, ""), reading)
    for step_id in ("name", "phone", "facility", "note"):
        step = step_of(ctx, "registration", step_id)
        read(ctx, step, form.get(step.slot, ""), reading)
    return reading
