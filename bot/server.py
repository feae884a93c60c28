"""`khuyencong serve`: one aiohttp application for every channel, the web chat and /healthz."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app import App, OrderedHandler
from bot.channels.common import Delivery, EventClaims
from bot.channels.web import WebChat
from bot.config import Settings
from bot.staff.dashboard import Dashboard

log = logging.getLogger("khuyencong.server")
APP_KEY = web.AppKey("khuyencong", App)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected failures become a polite 500 without internals; HTTP errors (404, 413…) pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s", request.path)
        return web.json_response({"error": "Hệ thống đang bận, bà con thử lại sau nhé."}, status=500)


def make_app(app: App, settings: Settings | None = None) -> web.Application:
    """Assemble routes; a channel whose settings are absent is not mounted (its route is a 404)."""
    settings = settings or app.settings
    handler = OrderedHandler(app.engine)
    claims = EventClaims(app.db_path, handler, app.repo)
    delivery = Delivery(handler, settings.web_rate_per_minute, claims, settings.web_background_workers)
    server = web.Application(client_max_size=settings.web_max_body_kb * 1024, middlewares=[errors])
    server[APP_KEY] = app
    chat = WebChat(delivery)
    server.router.add_get("/", chat.page)
    server.router.add_get("/static/{name}", chat.static)
    server.router.add_post("/api/chat", chat.api)
    server.router.add_get("/healthz", _health(handler, app))
    server.router.add_routes(Dashboard(app, handler).routes())
    _mount_zalo(server, settings, delivery, app)
    _mount_telegram(server, settings, delivery, app, handler)
    _mount_staff_notices(server, settings, app)

    async def drain(_: web.Application) -> None:
        await delivery.drain()  # work in flight finishes before the sessions close

    async def close(_: web.Application) -> None:
        claims.close()
        handler.close()
        app.close()

    server.on_shutdown.append(drain)
    server.on_cleanup.append(close)
    return server


def _health(handler: OrderedHandler, app: App) -> Handler:
    async def health(request: web.Request) -> web.Response:
        db = await handler.call(app.repo.healthy)
        knowledge = bool(app.engine.kb.faq.entries and app.engine.dialogs.flows)
        status = 200 if db and knowledge else 503
        return web.json_response({"ok": status == 200, "database": db, "knowledge": knowledge}, status=status)

    return health


def _mount_zalo(server: web.Application, settings: Settings, delivery: Delivery, app: App) -> None:
    if not settings.zalo_enabled:
        log.info("Zalo: off (set ZALO_APP_ID, ZALO_OA_SECRET_KEY and ZALO_ACCESS_TOKEN to mount /webhooks/zalo)")
        return
    from bot.channels.zalo import Tokens, ZaloClient, ZaloSettings, ZaloWebhook

    config = ZaloSettings(
        app_id=settings.zalo_app_id or "",
        oa_secret_key=settings.zalo_oa_secret_key or "",
        access_token=settings.zalo_access_token or "",
        refresh_token=settings.zalo_refresh_token,
        app_secret_key=settings.zalo_app_secret_key,
        api_base=settings.zalo_api_base,
        oauth_base=settings.zalo_oauth_base,
    )
    client = ZaloClient(config, Tokens(config, delivery.handler, app.repo))
    server.router.add_post("/webhooks/zalo", ZaloWebhook(config, delivery, client, app.repo).handle)
    server.router.add_get("/webhooks/zalo", _ok)  # Zalo's console may probe the URL with a GET

    async def start(_: web.Application) -> None:
        await client.start()

    async def stop(_: web.Application) -> None:
        await client.close()

    server.on_startup.append(start)
    server.on_cleanup.insert(0, stop)
    log.info("Zalo: on at POST /webhooks/zalo, sending to %s", settings.zalo_api_base)


def _mount_telegram(
    server: web.Application, settings: Settings, delivery: Delivery, app: App, handler: OrderedHandler
) -> None:
    if not settings.telegram_webhook_enabled:
        log.info("Telegram webhook: off (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)")
        return
    from bot.channels.telegram import TelegramWebhook, build_application
    from bot.staff.notify import StaffCommands

    commands = StaffCommands(app, handler, settings.staff_ids)
    tg = build_application(
        settings.telegram_bot_token or "", settings.telegram_api_base, delivery, app.repo, commands=commands
    )
    server.router.add_post("/webhooks/telegram", TelegramWebhook(tg, settings.telegram_webhook_secret or "").handle)

    async def start(_: web.Application) -> None:
        await tg.initialize()  # getMe
        await tg.start()

    async def stop(_: web.Application) -> None:
        await tg.stop()  # finishes the updates being processed
        await tg.shutdown()

    server.on_startup.append(start)
    server.on_shutdown.insert(0, stop)
    log.info("Telegram: on at POST /webhooks/telegram, Bot API at %s", settings.telegram_api_base)


def _mount_staff_notices(server: web.Application, settings: Settings, app: App) -> None:
    """Tell the staff chat of each stored registration (needs the bot token and TELEGRAM_STAFF_CHAT_ID)."""
    if not (settings.telegram_bot_token and settings.telegram_staff_chat_id):
        log.info("Staff notices on Telegram: off (set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID)")
        return
    import asyncio

    from telegram import Bot

    from bot.staff.notify import StaffNotifier

    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base)
    holder: dict[str, StaffNotifier] = {}

    async def start(_: web.Application) -> None:
        await bot.initialize()
        notifier = StaffNotifier(bot, settings.telegram_staff_chat_id or "", asyncio.get_running_loop(), app)
        holder["n"] = notifier
        app.engine.on_lead = notifier.lead_stored

    async def stop(_: web.Application) -> None:
        app.engine.on_lead = None
        notifier = holder.get("n")
        if notifier is not None and notifier.pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in list(notifier.pending)], timeout=10)
        await bot.shutdown()

    server.on_startup.append(start)
    server.on_shutdown.append(stop)
    log.info("Staff notices on Telegram: on (chat %s)", settings.telegram_staff_chat_id)


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def serve(app: App) -> None:
    """Run the server until SIGINT/SIGTERM; shutdown lets the work in flight finish."""
    settings = app.settings
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    web.run_app(
        make_app(app),
        host=settings.web_host,
        port=settings.web_port,
        shutdown_timeout=10,
        print=lambda s: log.info(s.strip()),
    )
