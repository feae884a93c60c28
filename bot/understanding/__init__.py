"""Understanding whole messages: intents and facts with their spans and confidence (no I/O, no channel).

understander = Understander(kb, dialogs)
u = understander.understand("HTX bên em làm chiếu cói ở xã Vĩnh Thủy tỉnh Quảng Trị, muốn xin hỗ trợ máy dệt")
u.intent                      # 'check_eligibility'
u.fact("legal_form").value    # 'cooperative'
"""

from bot.understanding.model import Fact, FactKind, Intent, IntentHit, Understanding
from bot.understanding.understander import MIN_CONFIDENCE, Understander

__all__ = ["MIN_CONFIDENCE", "Fact", "FactKind", "Intent", "IntentHit", "Understander", "Understanding"]
