"""What every part of the dialog is given: the knowledge, the flows and texts, storage, and the shared buttons."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bot.answers import AnswerReader
from bot.dialog.turn import Turn
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, Step, Texts
from bot.knowledge import Knowledge
from bot.messages import Button
from bot.storage import Conversation, Repository
from bot.understanding import Understander


@dataclass(frozen=True)
class EngineConfig:
    """Deployment choices the engine needs (from Settings)."""

    idle_hours: float = 336.0
    retention_months: int = 24
    default_locality: str | None = None  # the deploying commune's locality id, for contacts before a place is known
    handoff_idle_minutes: float = 240.0  # a chat held by staff with nothing said this long returns to the assistant
    announce_per_week: int = 2  # said in the news consent, as the sender applies it
    announce_night_start: int = 21
    announce_night_end: int = 7
    zbs_on_zalo: bool = False  # ZBS templates configured: the Zalo news consent says the phone may be used


@dataclass(frozen=True)
class Context:
    """The engine's collaborators, shared read-only by its parts, and the prompts they all use."""

    kb: Knowledge
    dialogs: Dialogs
    repo: Repository
    assessor: Assessor
    faq: FaqIndex
    config: EngineConfig

    @cached_property
    def reader(self) -> AnswerReader:
        """Reads a typed answer with the parser its step names."""
        a = self.assessor
        return AnswerReader(a.gazetteer, a.classifier, a.abbreviations, a.names_support)

    @cached_property
    def understander(self) -> Understander:
        """Reads a whole message into intents and facts."""
        a = self.assessor
        return Understander(self.kb, self.dialogs, a.gazetteer, a.classifier)

    @property
    def texts(self) -> Texts:
        """Every sentence that is not a step prompt."""
        return self.dialogs.texts

    def current(self, conv: Conversation) -> Step | None:
        """The step the person is being asked, if any."""
        flow = self.dialogs.flows.get(conv.flow or "")
        return flow.step(conv.step) if flow else None

    def ask(self, step: Step, turn: Turn, prefix: str = "") -> None:
        """Ask a step, after an optional line (a hint, 'back to the question')."""
        turn.say((prefix + "\n" if prefix else "") + step.prompt, self.step_buttons(step))

    def menu(self, turn: Turn, text: str | None = None) -> None:
        """The main menu, after its prompt or a given line."""
        turn.say(text or self.texts.menu_prompt, self.menu_buttons())

    def menu_buttons(self) -> list[Button]:
        """One button per menu entry."""
        return [Button(item.label, f"menu:{item.action}") for item in self.dialogs.menu.items]

    def command_button(self, command_id: str) -> Button:
        """A button for a global command, labelled as the menu file names it."""
        return Button(self.dialogs.command(command_id).label, f"cmd:{command_id}")

    def edit_or_menu(self) -> list[Button]:
        """'Sửa thông tin' and 'Menu'."""
        return [self.command_button("edit"), Button("Menu", "cmd:menu")]

    def step_buttons(self, step: Step) -> list[Button]:
        """The buttons of a step: its choices, yes/no/don't know, or skip for an optional text."""
        buttons = [Button(c.label, f"ans:{c.value}") for c in step.choices]
        if step.parser == "yes_no":
            buttons = [Button("Có", "ans:yes"), Button("Không", "ans:no"), Button(self.texts.dont_know, "ans:unknown")]
        if step.optional and step.parser == "text":
            buttons.append(Button(self.texts.skip, "ans:skip"))
        return buttons

    def sector_buttons(self) -> list[Button]:
        """One button per sector, for a product we could not place."""
        return [Button(s.name, f"sector:{s.code}") for s in self.kb.sectors.sectors]

    def _adds(self, conv: Conversation) -> list[Button]:
        """'Thêm tên cơ sở', 'Thêm ghi chú': the summary's optional parts not given yet."""
        steps = self.dialogs.flows["registration"].steps
        return [
            Button(f"Thêm {s.label[:1].lower()}{s.label[1:]}", f"edit:registration.{s.id}")
            for s in steps
            if s.at_summary and not conv.slots.get(s.slot)
        ]

    def yes_no_buttons(self) -> list[Button]:
        """'Đúng' and 'Không'."""
        return [Button(self.texts.yes_label, "yes:"), Button(self.texts.no_label, "no:")]

    def pending_buttons(self, conv: Conversation) -> list[Button]:
        """The buttons of the pending yes/no question: consent, the summary, or a plain yes/no."""
        kind = conv.pending.get("kind")
        if kind in ("consent", "news"):
            return [Button("Đồng ý", "yes:"), Button("Không đồng ý", "no:")]
        if kind == "understood":
            return [Button(self.texts.yes_label, "yes:"), Button(self.texts.summary_edit, "no:")]
        if kind == "summary":
            return [
                Button(self.texts.summary_confirm, "yes:"),
                Button(self.texts.summary_edit, "no:"),
                *self._adds(conv),
            ]
        return self.yes_no_buttons()
