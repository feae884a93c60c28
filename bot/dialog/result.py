"""The eligibility result: the profile built from the answers, the cited assessment, what a lead keeps of it."""

from __future__ import annotations

from typing import Any

from bot.dialog.context import Context
from bot.dialog.demand import with_demand
from bot.dialog.office import office_label, phone_gap, reach_of
from bot.dialog.turn import Turn
from bot.eligibility import Assessment, Profile
from bot.knowledge import AreaFlag
from bot.messages import Button
from bot.result_text import documents_text, everything, lines_for_person, reasons, verdict
from bot.storage import Conversation

OWNER_FLAGS = ("women_owned", "ethnic_minority_owned")
OUTSIDE = {"not_industrial_activity", "excluded_brick_kiln"}  # activities khuyến công never supports
CLEANER = "sxsh_la_gi"  # the FAQ entry on cleaner production


def profile_of(conv: Conversation) -> Profile:
    """The eligibility profile built from the answers so far."""
    slots = conv.slots
    place = slots.get("place") or {}
    return Profile(
        legal_form=slots.get("legal_form", "household_business"),
        activity=str(slots.get("activity") or "-")[:500],
        sector=slots.get("sector"),
        workers=slots.get("workers"),
        revenue_vnd=slots.get("revenue_vnd"),
        province=place.get("province") or slots.get("province_hint"),
        commune=place.get("commune"),
        craft_village=slots.get("craft_village"),
        needs=[n for n in slots.get("needs") or [] if n][:20],
        # Said unasked in the person's own words (understanding): they weigh in the size and the priority.
        capital_vnd=slots.get("capital_vnd"),
        export=slots.get("export"),
        owner_flags=[f for f in slots.get("owner_flags") or [] if f in OWNER_FLAGS],
        area_flags=_area_flags(slots.get("difficult_area", "unasked")),
    )


def assess_said(ctx: Context, conv: Conversation, profile: Profile) -> Assessment:
    """The cited assessment, without a reason about a legal form the person never gave."""
    found = ctx.assessor.assess(profile)
    if "legal_form" in conv.slots:
        return found
    # The profile defaults to a household business so that the rules can run; citing it would assert a fact.
    kept = [r for r in found.reasons if r.code != "legal_form_ok"]
    return found.model_copy(update={"reasons": kept})


def _area_flags(said: object) -> list[AreaFlag] | None:
    """The person's answer about a difficult area (asked for mining): yes, no, or unknown (None)."""
    return ["difficult"] if said is True else [] if said is False else None


def show_result(ctx: Context, conv: Conversation, turn: Turn) -> bool:
    """Assess, keep the summary, say the result; True when registration was asked for and may follow."""
    profile = profile_of(conv)
    assessment = assess_said(ctx, conv, profile)
    conv.slots["assessment"] = summary_of(assessment)
    assessment = with_demand(ctx, assessment, profile.needs, (conv.slots.get("place") or {}).get("code"))
    conv.flow = conv.step = None
    found, texts = reach_of(ctx, conv), ctx.texts
    gap = phone_gap(ctx, found)  # no number of their own office: said plainly, and whom to call
    steps = _steps_shown(ctx, assessment)
    codes = {r.code for r in assessment.reasons}
    if codes & OUTSIDE:  # no office can register it: where else to look, not 'contact … to register'
        steps, gap = [s for s in steps if not _contact_step(ctx, s)] + [texts.steps.elsewhere], []
    elif assessment.eligible is None and conv.slots.get("difficult_area", False) is None:
        steps = [texts.steps.area_hint.format(office=office_label(ctx, found.office)), *steps]
    last = lines_for_person(assessment, texts, profile.needs, steps, found.office, gap)
    messages = [verdict(assessment, texts.result), reasons(assessment, texts.result), last]
    said_no = any(r.text.startswith(texts.case.not_covered) for r in turn.replies)
    if assessment.eligible is False and said_no:  # the question's answer already gave the cited 'Không'
        messages = messages[-1:]
    buttons = ctx.edit_or_menu()
    if assessment.eligible is not False:
        buttons[:0] = [
            Button(texts.result_buttons_register, "menu:register"),
            Button(texts.result.all_button, f"{RESULT}:all"),
        ]
    elif "large_enterprise" in codes:  # cleaner production remains open to a large enterprise
        asked = [Button(texts.steps.cleaner_question, f"faq:{CLEANER}")] if CLEANER in ctx.faq.entries else []
        buttons[:0] = [*asked, Button(texts.steps.cleaner_register, "menu:register")]
    if len(buttons) < MAX_SHOWN_BUTTONS:  # Zalo shows four buttons; more become numbered lines
        buttons.append(Button(texts.news.offer, "cmd:subscribe"))
    for i, text in enumerate(messages):
        turn.say(text, buttons if i == len(messages) - 1 else ())
    return conv.slots.pop("after", None) == "registration" and assessment.eligible is not False


MAX_SHOWN_BUTTONS = 4  # Zalo's template holds four buttons
RESULT = "result"  # the payload kind of the result's own buttons
DOCUMENTS = "documents"  # 'result:documents': the documents of the last result


def show_everything(ctx: Context, conv: Conversation, view: str, turn: Turn) -> None:
    """ "Xem tất cả nội dung hỗ trợ": every line of the last result; its documents behind their own button."""
    if "assessment" not in conv.slots:  # started over since: the old result's answers are gone
        turn.say(ctx.texts.result.gone, ctx.menu_buttons())
        return
    profile = profile_of(conv)
    assessment = with_demand(
        ctx, assess_said(ctx, conv, profile), profile.needs, (conv.slots.get("place") or {}).get("code")
    )
    buttons = ctx.edit_or_menu()
    if assessment.eligible is not False:
        buttons.insert(0, Button(ctx.texts.result_buttons_register, "menu:register"))
    if view == DOCUMENTS or not assessment.documents:
        text = documents_text(assessment, ctx.texts) if view == DOCUMENTS else everything(assessment, ctx.texts)
        turn.say(text, buttons)
        return
    documents = Button(ctx.texts.result_documents.rstrip(":"), f"{RESULT}:{DOCUMENTS}")
    turn.say(everything(assessment, ctx.texts), [buttons[0], documents, *buttons[1:]])


def _contact_step(ctx: Context, step: str) -> bool:
    """Whether a next step is 'Liên hệ … để được hướng dẫn (và đăng ký)'."""
    rules = ctx.assessor.rules.next_steps
    return step == rules["no_office"] or step.startswith(rules["contact"].split("{", 1)[0])


def _steps_shown(ctx: Context, a: Assessment) -> list[str]:
    """The next steps said with the result: those a button or the full view does not already cover."""
    covered = {ctx.assessor.rules.next_steps[code] for code in ("documents", "register", "local_levels")}
    return [s for s in a.next_steps if s not in covered]


def summary_of(a: Assessment) -> dict[str, Any]:
    """What a lead keeps of the assessment: the decision, its cited reasons, the lines and documents."""
    return {
        "eligible": a.eligible,
        "subject": a.subject,
        "sector": a.sector.code if a.sector else None,
        "size": a.size,
        "reasons": [{"code": r.code, "citation": r.citation} for r in a.reasons],
        "priority": [r.code for r in a.priority_reasons],
        "lines": [
            {
                "code": ln.code,
                "funding": ln.funding,
                "share_max": ln.share_max,
                "cap_vnd": ln.cap_vnd,
                "status": ln.status,
            }
            for ln in a.support_lines
        ],
        "documents": [d.code for d in a.documents],
    }
