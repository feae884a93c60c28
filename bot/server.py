"""`khuyencong serve`: one aiohttp application for every channel, the web chat and /healthz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.announce.delivery import sender_for
from bot.announce.reminders import ReminderLoop
from bot.app import App, OrderedHandler
from bot.channels.common import Delivery, EventClaims
from bot.channels.inbox import InboxWorker, inbox_worker, processors
from bot.channels.limits import AddressLimit
from bot.channels.updates import Updates
from bot.channels.web import WebChat
from bot.config import Settings
from bot.health import Health
from bot.logs import setup_logging
from bot.proxy import trusted_networks
from bot.slow_clients import body_deadline, server_options
from bot.staff.dashboard import Dashboard
from bot.staff.handoffs import Handoffs
from bot.staff.inbox import InboxPages
from bot.staff.notify import StaffNotices
from bot.staff.relay import reminder
from bot.worker import WorkerProcess

log = logging.getLogger("khuyencong.server")
APP_KEY = web.AppKey("khuyencong", App)
PURGE_EVERY = 24 * 3600  # seconds
SWEEP_EVERY = 60.0  # seconds between looks for chats held by staff and idle too long
PURGE_FIRST = 60  # seconds after start: start-up stays quick, and a crash loop does not purge each time
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected failures become a polite 500 without internals; HTTP errors (404, 413…) pass through."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:  # JSON in Vietnamese, so the chat widget can show it
        return web.json_response({"error": "Tin nhắn quá dài, bà con gửi ngắn hơn nhé."}, status=413)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s", request.path)
        return web.json_response({"error": "Hệ thống đang bận, bà con thử lại sau nhé."}, status=500)


def make_app(app: App, settings: Settings | None = None) -> web.Application:
    """Assemble routes; a channel whose settings are absent is not mounted (its route is a 404)."""
    settings = settings or app.settings
    handler = OrderedHandler(app.engine)
    claims = EventClaims(app.repo.reopen(), handler, app.repo)
    delivery = Delivery(handler, settings.web_rate_per_minute, claims, settings.web_background_workers)
    server = web.Application(
        client_max_size=settings.web_max_body_kb * 1024, middlewares=[errors, body_deadline(settings.web_body_timeout)]
    )
    server[APP_KEY] = app
    limit = AddressLimit(settings.web_address_rate_per_minute, settings.web_address_chats_per_minute)
    chat = WebChat(delivery, limit, trusted_networks(settings.web_trusted_proxies))
    server.router.add_get("/", chat.page)
    server.router.add_get("/static/{name}", chat.static)
    server.router.add_post("/api/chat", chat.api)
    notices = StaffNotices(settings, app)  # started first: a lead stored at start-up is told too
    updates = _mount_handoffs(server, settings, app, handler, limit, notices)
    dashboard = Dashboard(app, handler)
    server.router.add_routes(InboxPages(app, handler, dashboard, updates.replied).routes())  # before the catch-all
    server.router.add_routes(dashboard.routes())
    server.on_startup.insert(0, lambda _: notices.start())
    server.on_shutdown.append(lambda _: notices.stop())
    wake, worker = _mount_worker(server, settings, app, handler, delivery)
    health = Health(app, handler, worker, claims)
    server.router.add_get("/healthz", health.handle)
    _mount_zalo(server, settings, claims, wake)
    _mount_telegram(server, settings, claims, wake)

    purge = DailyPurge(app, handler)
    server.on_startup.append(purge.start)
    server.on_shutdown.append(purge.stop)

    async def drain(_: web.Application) -> None:
        await delivery.drain()  # web chat turns in flight finish before the sessions close

    async def close(_: web.Application) -> None:
        claims.close()
        health.close()
        dashboard.close()
        handler.close()
        app.close()

    server.on_shutdown.append(drain)
    server.on_cleanup.append(close)
    return server


class Repeating:
    """Background work run `first` seconds after start, then every `every` seconds, until shutdown."""

    failure = "background work failed"  # logged when one round fails; the next round tries again

    def __init__(self, first: float, every: float) -> None:
        self.first, self.every = first, every
        self.task: asyncio.Task[None] | None = None

    async def start(self, _: object = None) -> None:
        """Start the task."""
        self.task = asyncio.create_task(self._loop())

    async def stop(self, _: object = None) -> None:
        """Stop it."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def once(self) -> None:
        """One round of the work."""

    async def _loop(self) -> None:
        await asyncio.sleep(self.first)
        while True:
            try:
                await self.once()
            except Exception:  # a busy database now is retried next round; serving goes on
                log.exception(self.failure)
            await asyncio.sleep(self.every)


class DailyPurge(Repeating):
    """Erase data past the retention period a minute after start, then once a day."""

    failure = "retention: purge failed"

    def __init__(self, app: App, handler: OrderedHandler, first: float = PURGE_FIRST) -> None:
        super().__init__(first, PURGE_EVERY)
        self.app, self.handler = app, handler

    async def once(self) -> None:
        """Purge now."""
        done = await self.handler.call(self.app.purge)
        log.info("retention: erased %s", done)


def _mount_handoffs(
    server: web.Application,
    settings: Settings,
    app: App,
    handler: OrderedHandler,
    limit: AddressLimit,
    notices: StaffNotices,
) -> Updates:
    """The web widget's long poll for staff replies, and the sweep giving idle chats back to the assistant."""
    trusted = trusted_networks(settings.web_trusted_proxies)
    updates = Updates(
        handler, app.repo.handoffs, limit, trusted, settings.web_long_poll_seconds, settings.web_long_polls_max
    )
    server.router.add_get("/api/chat/updates", updates.handle)
    sweep = HandoffSweep(Handoffs(app.repo, app.engine.texts.handoff, settings), handler, updates.replied, notices)
    server.on_startup.append(sweep.start)
    server.on_shutdown.insert(0, lambda _: updates.close())  # waiting polls answer before the listener closes
    server.on_shutdown.append(sweep.stop)
    return updates


class HandoffSweep(Repeating):
    """Every minute: chats held by staff with nothing said for the idle time go back to the assistant, and
    requests waiting past the reminder delay are reminded once to their commune's staff chat."""

    failure = "handoffs: idle sweep failed"

    def __init__(
        self, handoffs: Handoffs, handler: OrderedHandler, told: Callable[[], None], notices: StaffNotices
    ) -> None:
        # Often enough for a short reminder delay too (a test's, or a unit that wants one in two minutes).
        every = max(1.0, min(SWEEP_EVERY, handoffs.settings.khuyencong_handoff_remind_minutes * 30))
        super().__init__(every, every)
        self.handoffs, self.handler, self.told, self.notices = handoffs, handler, told, notices

    async def once(self) -> None:
        """Give back the idle ones; the people told (web chats waiting for updates woken); remind the late ones."""
        if await self.handler.call(self.handoffs.sweep):
            self.told()
        for handoff in await self.handler.call(self.handoffs.reminders):
            self.notices.tell(handoff.commune_code, reminder(handoff))


def _mount_worker(
    server: web.Application, settings: Settings, app: App, handler: OrderedHandler, delivery: Delivery
) -> tuple[Callable[[], None], WorkerProcess | None]:
    """Who runs stored webhook events; returns how to wake an in-process reader, and the child if any."""
    mode = settings.khuyencong_worker if app.shared else "inline"  # a memory db cannot be shared
    if mode == "external":
        log.info("Worker: external (run `khuyencong worker`)")
        return lambda: None, None
    if not (settings.zalo_enabled or settings.telegram_webhook_enabled):
        log.info("Worker: off (no webhook); announcements to the web chat are written by this process")
        sender = sender_for(app, delivery, {})  # no webhook: no inbox to read, and no other worker to wait for
        server.on_startup.append(lambda _: sender.start())
        server.on_shutdown.insert(0, lambda _: sender.stop())
        reminders = ReminderLoop(app, delivery)
        server.on_startup.append(lambda _: reminders.start())
        server.on_shutdown.insert(0, lambda _: reminders.stop())
        return lambda: None, None
    if mode == "process":
        child = WorkerProcess(app)
        server.on_startup.append(lambda _: child.start())
        server.on_shutdown.append(lambda _: child.stop())  # after the listener closed: nothing new arrives
        log.info("Worker: a child process (khuyencong worker)")
        return lambda: None, child
    inbox = inbox_worker(app.repo, handler, delivery, processors(app, settings, handler, delivery), app.db_path)
    _mount_inline(server, inbox, app, delivery)
    log.info("Worker: in this process")
    return inbox.wake, None


def _mount_inline(server: web.Application, inbox: InboxWorker, app: App, delivery: Delivery) -> None:
    """The inbox and the announcement sender run in this process, started and stopped with the server."""
    inbox.companions.append(sender_for(app, delivery, inbox.processors))
    inbox.companions.append(ReminderLoop(app, delivery))
    server.on_startup.append(lambda _: inbox.start())
    server.on_shutdown.insert(0, lambda _: inbox.stop())


def _mount_zalo(server: web.Application, settings: Settings, claims: EventClaims, wake: Callable[[], None]) -> None:
    if not settings.zalo_enabled:
        log.info("Zalo: off (set ZALO_APP_ID, ZALO_OA_SECRET_KEY and ZALO_ACCESS_TOKEN to mount /webhooks/zalo)")
        return
    from bot.channels.zalo import ZaloWebhook, zalo_settings

    server.router.add_post("/webhooks/zalo", ZaloWebhook(zalo_settings(settings), claims, wake).handle)
    server.router.add_get("/webhooks/zalo", _ok)  # Zalo's console may probe the URL with a GET
    log.info("Zalo: on at POST /webhooks/zalo, sending to %s", settings.zalo_api_base)


def _mount_telegram(server: web.Application, settings: Settings, claims: EventClaims, wake: Callable[[], None]) -> None:
    if not settings.telegram_webhook_enabled:
        log.info("Telegram webhook: off (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)")
        return
    from bot.channels.telegram import TelegramWebhook

    webhook = TelegramWebhook(settings.telegram_webhook_secret or "", claims, wake)
    server.router.add_post("/webhooks/telegram", webhook.handle)
    log.info("Telegram: on at POST /webhooks/telegram, Bot API at %s", settings.telegram_api_base)


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def serve(app: App) -> None:
    """Run the server until SIGINT/SIGTERM; shutdown lets the work in flight finish."""
    settings = app.settings
    setup_logging(settings)
    web.run_app(
        make_app(app),
        host=settings.web_host,
        port=settings.web_port,
        shutdown_timeout=10,
        access_log=None,
        print=lambda s: log.info(s.strip()),
        **server_options(settings),
    )
