// The chat widget: a random id kept in localStorage, the transcript kept too, so a reload loses nothing.
// On a shared device the copy must go: after "xóa dữ liệu" (the answer says "erased") and on
// "Bắt đầu cuộc trò chuyện mới" the page forgets the transcript and the id, and takes a new id.
// A message typed without a connection waits in the stored outbox and goes when the connection returns.
// Each waiting message has its own id (header X-Message-Id): when an answer is lost on the way back, the
// message goes again with the same id and the server gives the same answer instead of a second turn.
// Every answer, whatever brought it, is shown by showReplies(replies): the view goes to its start and
// only its text is announced to screen readers.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var typing = document.getElementById("typing");
  var status = document.getElementById("status");
  var announcer = document.getElementById("announce");
  var KEY = "khuyencong-chat";
  var RETRY_MS = 10000;  // a lost connection is tried again this often, and at once when the browser says it is back
  // On a phone a focused field opens the keyboard over the menu: focus it only where there is a real keyboard.
  var TOUCH = (navigator.maxTouchPoints || 0) > 0 || window.matchMedia("(pointer: coarse)").matches;
  var state = load();
  var busy = false;
  var retry = null;

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(KEY) || "null");
      if (saved && typeof saved.user === "string" && Array.isArray(saved.items)) {
        saved.outbox = Array.isArray(saved.outbox) ? saved.outbox : [];
        return saved;
      }
    } catch (e) { /* a broken store starts afresh */ }
    return fresh();
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function fresh() {
    return { user: randomId(), items: [], outbox: [] };
  }

  function forget() {
    try { localStorage.removeItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { /* nothing was kept */ }
    state = fresh();
  }

  function save() {
    state.items = state.items.slice(-200);
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: no memory */ }
  }

  function bubble(item, i) {
    var p = document.createElement("p");
    p.className = "msg " + item.who;
    p.dataset.i = String(i);
    p.textContent = item.text;  // never innerHTML: replies may quote what people typed
    log.appendChild(p);
  }

  function choices(buttons, live) {
    if (!buttons || !buttons.length) { return; }
    var box = document.createElement("div");
    box.className = "choices" + (live ? "" : " past");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Lựa chọn");
    buttons.forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.label;
      btn.disabled = !live;  // a past step's buttons: shown, greyed, and a tap does nothing
      btn.addEventListener("click", function () {
        if (!btn.disabled) { send({ button: b.payload }, b.label); }
      });
      box.appendChild(btn);
    });
    log.appendChild(box);
  }

  function showOffice() {
    var office = state.office;
    var box = document.getElementById("office");
    if (!office || !office.name) { box.hidden = true; return; }
    document.getElementById("office-name").textContent = office.name;
    var phone = document.getElementById("office-phone");
    phone.hidden = !office.phone;
    phone.textContent = office.phone ? "Điện thoại: " + office.phone : "";
    phone.href = office.phone ? "tel:" + String(office.phone).replace(/[^0-9+]/g, "") : "#";
    box.hidden = false;
  }

  // The whole transcript; `start` (an item's index) is brought to the top of the view, else the end.
  function render(start) {
    log.textContent = "";
    var waiting = busy || state.outbox.length > 0;
    state.items.forEach(function (item, i) {
      bubble(item, i);
      if (item.who === "bot") { choices(item.buttons, i === state.items.length - 1 && !waiting); }
    });
    showOffice();
    var first = start === undefined ? null : log.querySelector('[data-i="' + start + '"]');
    if (first) { first.scrollIntoView({ block: "start" }); } else { window.scrollTo(0, document.body.scrollHeight); }
  }

  function announce(text) {
    announcer.textContent = "";  // emptied first: the same words said twice are still announced
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  // New messages from the assistant (or, later, from staff): kept, shown from their start, announced.
  // `unsaved`: shown but not stored (the confirmation that the person's data was erased).
  function showReplies(replies, unsaved) {
    if (!replies || !replies.length) { return; }
    var start = state.items.length;
    replies.forEach(function (r) {  // a staff reply (from the long poll below) is drawn as one
      state.items.push({ who: r.from === "staff" ? "staff" : "bot", text: r.text, buttons: r.buttons || [] });
    });
    if (!unsaved) { save(); }
    render(start);
    announce(replies.map(function (r) { return r.text; }).join("\n"));
  }

  function setBusy(on) {
    busy = on;
    typing.hidden = !on;
    log.setAttribute("aria-busy", on ? "true" : "false");
  }

  function offline() {
    status.textContent = "Mất kết nối. Tin nhắn của bà con được giữ lại và sẽ tự gửi khi có mạng.";
    status.hidden = false;
    if (retry === null) { retry = window.setTimeout(function () { retry = null; flush(); }, RETRY_MS); }
  }

  function answered(asked, data) {
    setBusy(false);
    status.hidden = true;
    if (state !== asked) { return; }  // a new conversation started meanwhile: this answer is not its own
    state.outbox.shift();
    if (data.office) { state.office = data.office; }
    var replies = data.replies || [{ text: data.error || "Có lỗi, bà con thử lại nhé.", buttons: [] }];
    if (data.erased) { forget(); }  // only the confirmation stays on screen, and nothing in storage
    showReplies(replies, Boolean(data.erased));
    flush();
  }

  // Send the oldest waiting message, one at a time, in order.
  function flush() {
    if (busy || !state.outbox.length) { return; }
    if (navigator.onLine === false) { offline(); render(); return; }
    var asked = state;
    if (!state.outbox[0].body) { state.outbox[0] = { body: state.outbox[0], id: randomId() }; save(); }  // kept by an older page
    var waiting = state.outbox[0];
    setBusy(true);
    render();
    var headers = { "Content-Type": "application/json", "X-Message-Id": waiting.id };
    fetch("/api/chat", { method: "POST", headers: headers, body: JSON.stringify(waiting.body) })
      .then(function (r) { return r.json(); })
      .then(function (data) { answered(asked, data); })
      .catch(function () {
        setBusy(false);
        if (state === asked) { offline(); render(); }
      });
  }

  function send(body, shown) {
    body.user = state.user;
    if (shown) { state.items.push({ who: "me", text: shown }); }
    state.outbox.push({ body: body, id: randomId() });
    save();
    render();
    flush();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ text: text }, text);
  });

  document.getElementById("new-chat").addEventListener("click", function () {
    forget();
    setBusy(false);
    render();
    send({ text: "" }, null);  // a new id: the welcome, and nothing of the chat before
    if (!TOUCH) { input.focus(); }
  });

  window.addEventListener("online", flush);

  render();
  if (!state.items.length && !state.outbox.length) { send({ text: "" }, null); } else { flush(); }  // the welcome, unasked
  if (!TOUCH) { input.focus(); }

  // --- Staff replies: a long poll of GET /api/chat/updates (design §4.7) -------------------------------
  // The server answers at once when something newer than `after` exists, else within 25 s; `next` is kept
  // with the transcript, so a reload shows each staff reply once, and a missed one is fetched again.
  function listen() {
    var asked = state;
    var started = Date.now();
    var url = "/api/chat/updates?user=" + encodeURIComponent(asked.user) + "&after=" + (asked.next || 0);
    fetch(url, { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        var replies = data.replies || [];
        if (state === asked && replies.length) {
          state.next = data.next;
          showReplies(replies);  // kept with the cursor, shown from its start, announced
        } else if (state === asked && typeof data.next === "number") {
          state.next = Math.max(state.next || 0, data.next);
        }
        // An empty answer that came at once (the server is full): wait before asking again.
        setTimeout(listen, !replies.length && Date.now() - started < 1000 ? 5000 : 0);
      })
      .catch(function () { setTimeout(listen, 10000); });  // offline or refused: try again a little later
  }
  listen();
})();
