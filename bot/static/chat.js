// The chat widget: a random id kept in localStorage, the transcript kept too, so a reload loses nothing.
// On a shared device the copy must go: after "xóa dữ liệu" (the answer says "erased") and on
// "Bắt đầu cuộc trò chuyện mới" the page forgets the transcript and the id, and takes a new id.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var KEY = "khuyencong-chat";
  var state = load();

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(KEY) || "null");
      if (saved && typeof saved.user === "string" && Array.isArray(saved.items)) { return saved; }
    } catch (e) { /* a broken store starts afresh */ }
    return fresh();
  }

  function fresh() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    return { user: id, items: [] };
  }

  function forget() {
    try { localStorage.removeItem(KEY); sessionStorage.removeItem(KEY); } catch (e) { /* nothing was kept */ }
    state = fresh();
  }

  function save() {
    state.items = state.items.slice(-200);
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: no memory */ }
  }

  function bubble(text, who) {
    var p = document.createElement("p");
    p.className = "msg " + who;
    p.textContent = text;  // never innerHTML: replies may quote what people typed
    log.appendChild(p);
  }

  function choices(buttons, live) {
    if (!buttons || !buttons.length) { return; }
    var box = document.createElement("div");
    box.className = "choices";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Lựa chọn");
    buttons.forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.label;
      btn.disabled = !live;
      btn.addEventListener("click", function () { send({ button: b.payload }, b.label); });
      box.appendChild(btn);
    });
    log.appendChild(box);
  }

  function render() {
    log.textContent = "";
    state.items.forEach(function (item, i) {
      bubble(item.text, item.who);
      if (item.who === "bot") { choices(item.buttons, i === state.items.length - 1); }
    });
    window.scrollTo(0, document.body.scrollHeight);  // the newest message in view
  }

  function send(body, shown) {
    var asked = state;  // the answer belongs to this conversation, even if a new one starts meanwhile
    body.user = state.user;
    if (shown) { state.items.push({ who: "me", text: shown }); }
    save();
    render();
    fetch("/api/chat", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (state !== asked) { return; }
        var replies = data.replies || [{ text: data.error || "Có lỗi, bà con thử lại nhé.", buttons: [] }];
        if (data.erased) { forget(); }  // only the confirmation stays on screen, and nothing in storage
        replies.forEach(function (r) { state.items.push({ who: "bot", text: r.text, buttons: r.buttons }); });
        if (!data.erased) { save(); }
        render();
      })
      .catch(function () {
        state.items.push({ who: "bot", text: "Mất kết nối, bà con thử lại sau nhé.", buttons: [] });
        render();
      });
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
    render();
    send({ text: "" }, null);  // a new id: the welcome, and nothing of the chat before
    input.focus();
  });

  if (!state.items.length) { send({ text: "" }, null); } else { render(); }  // the welcome, unasked
  input.focus();

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
          replies.forEach(function (r) { state.items.push({ who: r.from === "staff" ? "staff" : "bot", text: r.text, buttons: [] }); });
          state.next = data.next;
          save();
          render();
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
