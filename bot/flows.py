"""Schema and loader of dialogs/*.yaml: the menu, the global commands, the interview flows, the texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.knowledge import parse_model
from bot.knowledge_errors import KnowledgeError, Problem

Ident = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
NonEmpty = Annotated[str, Field(min_length=1)]
Parser = Literal["choice", "activity", "count", "money", "place", "yes_no", "phone", "name", "text", "needs"]
# Named conditions the engine knows how to test; a step is asked only when its condition holds.
Condition = Literal["enterprise", "city_ward", "consent_given", "mining"]
CommandId = Literal["menu", "back", "edit", "restart", "help", "staff", "delete", "my_data", "subscribe", "unsubscribe"]
Action = Literal["eligibility", "support", "documents", "register", "ask", "staff", "my_data"]


class Strict(BaseModel):
    """Unknown fields are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Strict):
    """A button of a step, and the words people type for it."""

    label: NonEmpty
    value: NonEmpty
    synonyms: list[NonEmpty] = Field(default_factory=list)


class Step(Strict):
    """One question of a flow, the slot it fills and how the answer is read."""

    id: Ident
    slot: Ident
    prompt: NonEmpty
    parser: Parser
    hint: NonEmpty
    choices: list[Choice] = Field(default_factory=list)
    when: Condition | None = None
    optional: bool = False  # 'bỏ qua' leaves the slot empty
    at_summary: bool = False  # never asked in turn: typed at the summary, or asked by its 'Thêm …' button there
    label: NonEmpty  # how the answer is named in a summary

    @model_validator(mode="after")
    def _choices_for_choice(self) -> Step:
        if self.parser == "choice" and not self.choices:
            raise ValueError("a 'choice' step needs choices")
        return self


class Flow(Strict):
    """An interview: steps in order; version bumps restart conversations that were mid-way."""

    id: Ident
    version: int = Field(ge=1)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> Flow:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError("step ids must be unique")
        return self

    def step(self, step_id: str | None) -> Step | None:
        """The step with this id."""
        return next((s for s in self.steps if s.id == step_id), None)


class MenuItem(Strict):
    """An entry of the main menu."""

    action: Action
    label: NonEmpty
    synonyms: list[NonEmpty] = Field(default_factory=list)


class Command(Strict):
    """A command that works anywhere, typed in Vietnamese or as /slash."""

    id: CommandId
    label: NonEmpty
    slash: list[Annotated[str, Field(pattern=r"^/[a-z_]+$")]] = Field(min_length=1)
    synonyms: list[NonEmpty] = Field(min_length=1)


class MenuFile(Strict):
    """dialogs/menu.yaml."""

    items: list[MenuItem] = Field(min_length=1)
    commands: list[Command]
    # Words around a request that do not change it: 'tôi muốn đăng ký ạ' is 'đăng ký'.
    courtesy_before: list[NonEmpty] = Field(default_factory=list)
    courtesy_after: list[NonEmpty] = Field(default_factory=list)

    @model_validator(mode="after")
    def _every_command(self) -> MenuFile:
        missing = set(CommandId.__args__) - {c.id for c in self.commands}  # type: ignore[attr-defined]
        if missing:
            raise ValueError(f"commands lack {sorted(missing)}")
        return self


class CaseTexts(Strict):
    """What answers from the person's own case say around the figures of the knowledge (texts.yaml, case:)."""

    plan_heading: NonEmpty  # fields: title, start, end
    plan_lines: NonEmpty
    plan_line: NonEmpty  # fields: name, figures, funding
    plan_figures: NonEmpty  # fields: amount
    plan_count: NonEmpty  # fields: slots
    plan_sum: NonEmpty  # fields: total
    plan_total: NonEmpty  # fields: total
    plan_contents: NonEmpty
    plan_no_amounts: NonEmpty
    plan_forms: NonEmpty
    plan_line_missing: NonEmpty  # fields: place, line
    plan_line_unpriced: NonEmpty  # fields: place, line
    no_plan: NonEmpty  # fields: place
    ask_place: NonEmpty  # fields: question
    district_gone: NonEmpty  # fields: district, options
    national: NonEmpty
    depends: NonEmpty  # fields: missing
    missing: dict[str, NonEmpty]
    covered: NonEmpty
    not_covered: NonEmpty
    ward_rule: NonEmpty  # fields: province
    size_test: NonEmpty  # fields: group, micro, small, medium
    size_ceiling: NonEmpty  # fields: workers, revenue, capital
    size_groups: dict[str, NonEmpty]
    size_not_enterprise: NonEmpty  # fields: form
    restricted_sector: NonEmpty  # fields: matched, sector
    priority_met: NonEmpty
    priority_none: NonEmpty
    priority_if: NonEmpty  # fields: items
    priority_items: dict[str, NonEmpty]  # fields: share (local_raw_material*), workers (labour_intensive)
    funding: dict[str, NonEmpty]


class HandoffTexts(Strict):
    """What is said around a handoff to staff (dialogs/texts.yaml, handoff:)."""

    opened: NonEmpty  # fields: office
    failed: NonEmpty  # fields: office
    no_hours: NonEmpty
    callback: NonEmpty  # the consent text; fields: office, retention
    callback_version: NonEmpty
    callback_yes: NonEmpty
    callback_no: NonEmpty
    callback_phone: NonEmpty
    callback_saved: NonEmpty  # fields: phone
    callback_declined: NonEmpty
    my_data: NonEmpty  # a line of "dữ liệu của tôi": the call-back number kept; fields: phone, office, day
    my_data_office: NonEmpty  # who calls back when the handoff has no commune
    ask_place: NonEmpty  # "gặp cán bộ" or "sđt xã" with no commune known
    failed_ask: NonEmpty  # two messages not understood, no commune known: a cán bộ will read it; which commune
    skip_place: NonEmpty  # the button to hand over without a commune
    which_place: NonEmpty  # communes of the same name: which one
    opened_anyone: NonEmpty  # handed over with no commune known (the admins see it)
    anyone: NonEmpty  # who keeps a call-back number when no office is known
    office_unknown: NonEmpty  # "sđt xã" and no commune given
    passed_on: NonEmpty
    still_waiting: NonEmpty
    back: NonEmpty
    idle: NonEmpty
    staff_says: NonEmpty  # fields: name, place, text
    button: NonEmpty  # a button pressed, as the transcript shows it when its label is not known


class NewsTexts(Strict):
    """Subscribing to a commune's news, and the announcements as sent (texts.yaml, news:)."""

    offer: NonEmpty  # the button after a result and after registering
    ask_place: NonEmpty  # no commune known yet
    place_unknown: NonEmpty  # the commune typed was not found
    consent: NonEmpty  # the consent text; fields: place, per_week, night_start, night_end
    consent_ask: NonEmpty
    consent_zbs: NonEmpty
    consent_version: NonEmpty
    subscribed: NonEmpty  # fields: place
    already: NonEmpty  # fields: place
    declined: NonEmpty
    unsubscribed: NonEmpty
    not_subscribed: NonEmpty
    my_data: NonEmpty  # a line of "dữ liệu của tôi"; fields: place, day
    withdrawn: NonEmpty  # the withdrawal as the consents table keeps it
    blocked: NonEmpty  # the withdrawal when the platform says the person blocked the bot
    unfollowed: NonEmpty  # the withdrawal when the person leaves the Zalo OA
    heading: NonEmpty  # fields: place
    deadline: NonEmpty  # fields: day
    link: NonEmpty  # fields: link
    footer: NonEmpty
    stop_button: NonEmpty


class ReminderTexts(Strict):
    """A subscriber's own reminders (texts.yaml, reminders:): a deadline near, their registration moved on."""

    deadline: NonEmpty  # before the deadline of the plan they registered for; fields: plan
    status: dict[str, NonEmpty]  # per lead status they are told of; fields: ref


class StepTexts(Strict):
    """Natural replies at a step (texts.yaml, steps:): no phone at hand, a yes typed for a name, 'Tôi hiểu' unclear."""

    phone_why: NonEmpty  # no phone typed: why it is needed, with 'Để sau' and 'Gặp cán bộ'
    later_button: NonEmpty
    name_again: NonEmpty
    name_only: NonEmpty  # the phone was given alone where name and phone were asked: only the name now
    understood_hint: NonEmpty
    fine: NonEmpty  # 'không cần' after a result: nothing asked, the menu
    facility_note: NonEmpty  # a note typed for the facility name: kept as the note
    elsewhere: NonEmpty  # the next step of an activity outside khuyến công (trade, services, farming, brick kilns)
    area_hint: NonEmpty  # mining, difficult area unknown: whom to ask; fields: office
    cleaner_question: NonEmpty  # buttons of a large enterprise's result: what remains for it
    cleaner_register: NonEmpty


class ResultTexts(Strict):
    """The eligibility result as a phone shows it (texts.yaml, result:)."""

    eligible: NonEmpty  # fields: checks
    not_eligible: NonEmpty  # fields: why
    unknown: NonEmpty  # fields: why
    checks: dict[str, NonEmpty]  # reason code -> what it checked ("loại hình")
    checks_default: NonEmpty
    and_word: NonEmpty
    because: dict[str, NonEmpty]  # blocking reason code -> the one-line reason
    why: NonEmpty
    questions: NonEmpty
    sources: NonEmpty
    lines: NonEmpty
    lines_local: NonEmpty
    all_button: NonEmpty
    all_lines: NonEmpty
    all_rest: NonEmpty  # fields: lines (the contents without a figure, named together)
    gone: NonEmpty


class Texts(Strict):
    """Every sentence the engine says that is not a step prompt (dialogs/texts.yaml)."""

    welcome: NonEmpty
    menu_prompt: NonEmpty
    help: NonEmpty
    case: CaseTexts
    result: ResultTexts
    not_understood: NonEmpty
    stale_button: NonEmpty
    consent_hint: NonEmpty  # anything but yes or no typed at the consent question (a name, most often)
    too_long: NonEmpty
    idle_restart: NonEmpty
    flow_changed: NonEmpty
    back_nothing: NonEmpty
    edit_prompt: NonEmpty
    edit_nothing: NonEmpty
    restarted: NonEmpty
    offer_staff: NonEmpty
    confirm_guess: NonEmpty
    yes_label: NonEmpty
    no_label: NonEmpty
    skip: NonEmpty
    dont_know: NonEmpty
    faq_then_back: NonEmpty
    ask_prompt: NonEmpty
    province_only: NonEmpty
    not_in_province: NonEmpty  # fields: commune, province
    not_in_province_elsewhere: NonEmpty  # fields: commune, province
    which_place: NonEmpty
    product_heard: NonEmpty  # fields: product
    which_office: NonEmpty  # fields: options
    district_gone: NonEmpty  # fields: district
    place_district: NonEmpty  # fields: district, now
    place_confirm: NonEmpty
    activity_confirm: NonEmpty
    activity_unknown_sector: NonEmpty
    old_phone: NonEmpty
    formula_refused: NonEmpty
    result_intro: NonEmpty
    result_no_lines: NonEmpty
    result_documents: NonEmpty
    result_next: NonEmpty
    result_reference: NonEmpty
    result_buttons_register: NonEmpty
    support_overview: NonEmpty
    documents_overview: NonEmpty
    need_interview_first: NonEmpty
    consent: NonEmpty
    consent_version: NonEmpty
    consent_refused: NonEmpty
    contact_not_kept: NonEmpty
    summary: NonEmpty
    summary_confirm: NonEmpty
    summary_edit: NonEmpty
    registered: NonEmpty
    registered_update: NonEmpty
    slots_over: NonEmpty  # a line wanted whose registrations already fill the commune's planned slots
    slots_over_registered: NonEmpty  # the same, said with the reference code
    my_data_none: NonEmpty
    my_data: NonEmpty
    delete_confirm: NonEmpty
    deleted: NonEmpty
    delete_cancelled: NonEmpty
    staff: NonEmpty
    staff_phone: NonEmpty
    staff_recorded: NonEmpty
    default_office: NonEmpty
    office_with_phone: NonEmpty  # fields: office, phone
    contact_address: NonEmpty  # fields: address
    contact_hours: NonEmpty  # fields: hours
    contact_zalo: NonEmpty  # fields: zalo
    contact_unknown: NonEmpty  # fields: place (no profile for the person's commune)
    contact_no_phone: NonEmpty  # fields: office (a profile without a phone)
    contact_fallback: NonEmpty  # fields: office (the deploying unit's own contact)
    retention: NonEmpty
    duplicate: NonEmpty
    paused: NonEmpty
    understood: NonEmpty
    place_renamed_province: NonEmpty  # fields: old, new
    place_renamed_unit: NonEmpty  # fields: typed, now
    place_renamed: NonEmpty  # fields: note
    summary_note: NonEmpty
    summary_nothing_more: NonEmpty
    registration_later: NonEmpty
    contact_needed: NonEmpty
    handoff: HandoffTexts
    steps: StepTexts
    news: NewsTexts
    reminders: ReminderTexts


class Dialogs:
    """Everything loaded from dialogs/."""

    def __init__(self, menu: MenuFile, flows: dict[str, Flow], texts: Texts) -> None:
        self.menu = menu
        self.flows = flows
        self.texts = texts

    def command(self, command_id: str) -> Command:
        """The global command with this id."""
        return next(c for c in self.menu.commands if c.id == command_id)


REQUIRED_FLOWS = ("eligibility", "registration")


def load_dialogs(root: Path | str) -> Dialogs:
    """Load and check dialogs/; raise KnowledgeError naming every problem by file and field."""
    root = Path(root)
    menu, problems = parse_model(MenuFile, root / "menu.yaml", root)
    texts, found = parse_model(Texts, root / "texts.yaml", root)
    problems += found
    flows: dict[str, Flow] = {}
    for name in REQUIRED_FLOWS:
        flow, found = parse_model(Flow, root / f"{name}.yaml", root)
        problems += found
        if flow is not None:
            if flow.id != name:
                problems.append(Problem(f"dialogs/{name}.yaml", "id", f"must be '{name}'"))
            flows[name] = flow
    if problems or menu is None or texts is None:
        raise KnowledgeError(problems)
    return Dialogs(menu, flows, texts)
