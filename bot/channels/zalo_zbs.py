"""Zalo's paid template message by phone ("ZBS Template Message", formerly ZNS): one send, never repeated.

POST {ZALO_ZBS_API_BASE}/message/template with the OA's access token (the one bot/channels/zalo_auth.py keeps
fresh), JSON {"phone": "84…", "template_id": …, "template_data": {…}, "tracking_id": …}; Zalo answers
{"error": 0, "message": "Success", "data": {"msg_id": …}} or a non-zero error. docs/deploy.md has the shape and
how sure each part of it is.
"""

from __future__ import annotations

import asyncio
import logging

from bot.channels.zalo import RETRYABLE, TOKEN_ERRORS, ZaloClient

log = logging.getLogger("khuyencong.zalo")
PATH = "/message/template"
# The person cannot get a template at this phone: no valid number, no Zalo account on it, or they refuse
# templates from this OA (unverified codes: docs/deploy.md). Any other error is the template's or the OA's.
PHONE_ERRORS = {-108, -118, -119, -139}


class TemplateClient:
    """Sends one approved template to one phone on the Zalo OA client's session and tokens."""

    def __init__(self, client: ZaloClient, api_base: str, template_id: str, backoff: float = 0.5) -> None:
        self.client, self.template_id, self.backoff = client, template_id, backoff
        self.url = api_base.rstrip("/") + PATH

    async def send(self, phone: str, data: dict[str, str], tracking_id: str) -> str:
        """'sent', 'unreachable' (this phone), 'refused' (the template or the OA) or 'failed' (may have arrived).

        A paid message whose answer was lost (a timeout, a 5xx) is not sent again; only a definite "not now"
        (a rate limit, a stale token) is.
        """
        session = self.client.session
        assert session is not None, "start the Zalo client first"
        body = {"phone": phone, "template_id": self.template_id, "template_data": data, "tracking_id": tracking_id}
        refreshed = False
        for attempt in range(3):
            token = await self.client.tokens.current()
            code, sent_id = await self.client._post(self.url, token, body)
            if code == 0:
                if sent_id and self.client.on_sent is not None:  # its echo, if Zalo sends one, is ours
                    await self.client.on_sent(sent_id)
                return "sent"
            if code is None:
                return "failed"
            if code in TOKEN_ERRORS and not refreshed:
                refreshed = True
                if await self.client.tokens.refresh(session, token):
                    continue
                return "failed"
            if code in RETRYABLE:
                await asyncio.sleep(self.backoff * 2**attempt)
                continue
            if code in PHONE_ERRORS:
                log.warning("zalo: template for row %s: this phone cannot get it (error %s)", tracking_id, code)
                return "unreachable"
            log.error("zalo: template for row %s refused with error %s", tracking_id, code)
            return "refused"
        return "failed"
