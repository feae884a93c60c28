"""Understanding whole messages: intents and facts with their spans and confidence (no I/O, no channel).

understander = Understander(kb, dialogs)
u = understander.understand("HTX bên em làm chiếu cói ở xã Vĩnh Thủy tỉnh Quảng Trị, muốn xin hỗ trợ máy dệt")
u.intent                      # 'check_eligibility'
u.fact("legal_form").value    # 'cooperative'
"""

from bot.understanding.model import Fact, FactKind, Intent, IntentHit, Understanding
from bot.understanding.slots import MIN_CONFIDENCE, SURE, Slots, slots_of
from bot.understanding.understander import Understander

__all__ = [
    "MIN_CONFIDENCE",
    "SURE",
    "Fact",
    "FactKind",
    "Intent",
    "IntentHit",
    "Slots",
    "Understander",
    "Understanding",
    "slots_of",
]
