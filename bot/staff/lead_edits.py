"""Staff changes to leads beyond the follow-up: a contact corrected, a registration taken at the office.

Both run on the repository's thread, one transaction each, and leave an audit row naming the officer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from bot.dialog.result import summary_of  # the same summary a chat registration keeps
from bot.eligibility import Assessor, Profile, vnd
from bot.storage import Consent, Lead
from bot.storage.sqlite import SqliteRepository, now
from bot.text import national_phone

OFFICE = "office"  # the channel of a registration taken at the office or on the phone
CORRECTED = "contact corrected by staff"
ADDED = "registered at the office"
FIELD_LABELS = {"name": "Họ tên", "phone": "Số điện thoại", "facility_name": "Tên cơ sở", "activity": "Sản phẩm"}


@dataclass(frozen=True)
class Contact:
    """What an officer may correct on a lead."""

    name: str
    phone: str  # +84 form, as the chat keeps it
    facility_name: str
    activity: str


def changes_of(lead: Lead, new: Contact) -> dict[str, list[str]]:
    """{field: [old, new]} of what differs, phones as people write them."""
    old = Contact(lead.name, lead.phone, lead.facility_name, str(lead.profile.get("activity") or ""))
    found = {}
    for name in FIELD_LABELS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            found[name] = [national_phone(before), national_phone(after)] if name == "phone" else [before, after]
    return found


def reassessed(assessor: Assessor, lead: Lead, activity: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lead's profile with the corrected product, and its assessment made again as the chat makes it."""
    profile = dict(lead.profile, activity=activity)
    try:
        fresh = Profile.model_validate_json(json.dumps(profile))
    except ValueError:  # a profile of an older shape: keep the assessment it was registered with
        return profile, lead.assessment
    return profile, summary_of(assessor.assess(fresh))


def correct(repo: SqliteRepository, lead: Lead, new: Contact, actor: str, assessor: Assessor) -> dict[str, list[str]]:
    """Store the corrected contact (the product re-assessed, the duplicate flag read again); the changes."""
    changes = changes_of(lead, new)
    if not changes:
        return changes
    profile, assessment = (
        reassessed(assessor, lead, new.activity) if "activity" in changes else (lead.profile, lead.assessment)
    )
    with repo._tx() as cur:
        # Another chat's lead with the new phone in this commune is flagged, as at a chat registration.
        duplicate = (
            repo._other_earlier(cur, replace(lead, phone=new.phone)) if "phone" in changes else lead.duplicate_of
        )
        cur.execute(
            "UPDATE leads SET name = ?, phone = ?, facility_name = ?, profile = ?, assessment = ?, duplicate_of = ?, "
            "updated_at = ? WHERE ref = ?",
            [
                new.name,
                new.phone,
                new.facility_name,
                json.dumps(profile, ensure_ascii=False),
                json.dumps(assessment, ensure_ascii=False),
                duplicate,
                now(),
                lead.ref,
            ],
        )
        repo._audit(cur, lead.ref, actor, CORRECTED, changes)
    return changes


def add_at_office(repo: SqliteRepository, consent: Consent, lead: Lead, officer: str) -> Lead:
    """The verbal consent (with the officer who read it out) and the lead, in one transaction.

    The lead goes through the chat's own storage path: a consent of the same (office) key is required, and
    another chat's lead with the same phone and commune is flagged "Có thể trùng với KC-…".
    """
    with repo._tx() as cur:
        cur.execute(
            "INSERT INTO consents (channel, user, purpose, text_version, text, given, at, recorded_by) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [consent.channel, consent.user, consent.purpose, consent.text_version, consent.text, 1, now(), officer],
        )
        lead.consent_id = int(cur.lastrowid or 0)
        stored = repo._upsert_lead(cur, lead)
        cur.execute(
            "UPDATE lead_audit SET actor = ?, action = ? WHERE lead_ref = ? AND action = 'created'",
            [f"staff:{officer}", ADDED, stored.ref],
        )
    return stored


LABELS = {"money": vnd}  # template helpers of the walk-in and slots pages (labels: bot/staff/labels.py)
