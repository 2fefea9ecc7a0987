// Patient chat widget. Model output is only ever inserted as text (textContent), never as HTML.
// A message is posted asking for server-sent events, so a typing indicator shows as soon as the
// server starts on the turn; when that stream cannot be used the same post (same idempotency
// key) is made as plain JSON.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let conversationId = null;
  let busy = false;
  let stream = null; // live messages from staff (takeover) for the open conversation
  let streamBroken = false;
  // The server ends a session after 15 minutes without activity: warn 2 minutes before, then
  // sign out here too (a shared computer should not keep the chat on screen).
  const IDLE_MS = 15 * 60 * 1000;
  const WARN_MS = 2 * 60 * 1000;
  let idleWarn = null;
  let idleEnd = null;

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; }
    if (resp.status !== 401 && conversationId) resetIdle();
    return { status: resp.status, data };
  }

  function resetIdle() {
    clearTimeout(idleWarn);
    clearTimeout(idleEnd);
    $("idle").hidden = true;
    idleWarn = setTimeout(() => { $("idle").hidden = false; }, IDLE_MS - WARN_MS);
    idleEnd = setTimeout(idleSignOut, IDLE_MS);
  }

  async function idleSignOut() {
    await api("POST", "/api/sign-out");
    showSignIn("You were signed out after 15 minutes without activity, to protect your privacy.");
  }

  /** Replaces the log with the conversation's stored history. */
  async function reloadHistory() {
    const hist = await api("GET", "/api/conversations/" + encodeURIComponent(conversationId) + "/messages");
    if (hist.status === 401) { showSignIn("Your session ended. Please sign in again."); return false; }
    if (hist.status !== 200) return false;
    $("log").replaceChildren();
    showReplies(hist.data);
    return true;
  }

  /** Follows what staff write into the conversation (takeover); reconnects after a drop and
   * then reloads the history, so nothing said meanwhile is missed. */
  function listen() {
    if (stream) stream.close();
    stream = new EventSource("/api/conversations/" + encodeURIComponent(conversationId) + "/events");
    stream.addEventListener("message", (e) => {
      let m = null;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      if (m && typeof m.text === "string") addMessage(m.role === "staff" ? "staff" : "agent", m.text);
    });
    stream.addEventListener("open", async () => {
      if (!streamBroken) return;
      streamBroken = false;
      if (await reloadHistory()) $("status").textContent = "Reconnected.";
    });
    stream.addEventListener("error", () => {
      streamBroken = true;
      $("status").textContent = "Connection lost. Reconnecting…";
      // The browser retries an open stream by itself; one it gave up on is retried here.
      if (stream.readyState === EventSource.CLOSED) setTimeout(() => { if (conversationId) retryStream(); }, 3000);
    });
  }

  async function retryStream() {
    const me = await api("GET", "/api/me").catch(() => ({ status: 0 }));
    if (me.status === 401) { showSignIn("Your session ended. Please sign in again."); return; }
    listen();
  }

  function addMessage(role, text) {
    const li = document.createElement("li");
    li.className = role;
    if (role === "staff") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = "Care team";
      li.appendChild(who);
    }
    li.appendChild(document.createTextNode(text));
    $("log").appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function showOptions(options) {
    const box = $("options");
    box.replaceChildren();
    for (const opt of options || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = opt;
      b.addEventListener("click", () => send(opt));
      box.appendChild(b);
    }
  }

  function showReplies(replies) {
    let last = [];
    for (const r of replies || []) { addMessage(r.role || "agent", r.text); last = r.options || []; }
    showOptions(last);
  }

  function errorText(res) {
    const issue = res.data && res.data.issue && res.data.issue[0];
    return issue && issue.diagnostics ? issue.diagnostics : "Something went wrong. Please try again.";
  }

  // Issue codes of an OperationOutcome sent as a stream's `error` event, as HTTP statuses.
  const STATUS_OF = { invalid: 400, login: 401, forbidden: 403, "not-found": 404, conflict: 409, transient: 503 };

  /** The typing indicator (three dots after the log; the status line says it in words). */
  function showTyping(on) {
    let dots = $("typing");
    if (!dots) {
      dots = document.createElement("div");
      dots.id = "typing";
      dots.className = "typing";
      dots.setAttribute("aria-hidden", "true");
      for (let i = 0; i < 3; i++) dots.appendChild(document.createElement("span"));
      $("log").after(dots);
    }
    dots.hidden = !on;
    $("status").textContent = on ? "The assistant is typing…" : "";
    if (on) dots.scrollIntoView({ block: "end" });
  }

  /** Splits complete server-sent events off the front of `buffer`: [events, the rest]. */
  function parseEvents(buffer) {
    const blocks = buffer.split("\n\n");
    const rest = blocks.pop();
    const events = [];
    for (const block of blocks) {
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        const i = line.indexOf(":");
        if (i === 0) continue; // a keep-alive comment
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) events.push({ event, data: data.join("\n") });
    }
    return [events, rest];
  }

  /**
   * Posts a message asking for server-sent events: `progress` shows the typing indicator, and
   * `turn` or `error` answer {status, data} as the JSON API would. Throws when the stream
   * fails or ends without an answer.
   */
  async function postStreaming(path, body, key) {
    const resp = await fetch(path, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Accept": "text/event-stream", "Content-Type": "application/json", "Idempotency-Key": key },
    });
    if (!(resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      // Answered before the turn started (signed out, busy, bad input): plain JSON.
      let data = null;
      try { data = await resp.json(); } catch (_) { data = null; }
      return { status: resp.status, data };
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended without an answer");
      const [events, rest] = parseEvents(buffer + decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n"));
      buffer = rest;
      for (const e of events) {
        if (e.event === "progress") { showTyping(true); continue; }
        if (e.event !== "turn" && e.event !== "error") continue;
        reader.cancel().catch(() => {});
        const data = JSON.parse(e.data);
        if (e.event === "turn") return { status: 200, data };
        const issue = data && data.issue && data.issue[0];
        return { status: (issue && STATUS_OF[issue.code]) || 500, data };
      }
    }
  }

  /** Posts with retries (a saturated server answers 503); streaming first, JSON if it fails. */
  async function post(text, key) {
    const path = "/api/conversations/" + encodeURIComponent(conversationId) + "/messages";
    let streaming = true;
    let res = { status: 0, data: null };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (streaming) {
          res = await postStreaming(path, { text }, key);
          if (res.status !== 401 && conversationId) resetIdle();
        } else {
          showTyping(true);
          res = await api("POST", path, { text }, { "Idempotency-Key": key });
        }
        if (res.status !== 503) break;
      } catch (_) {
        res = { status: 0, data: null };
        if (streaming) { streaming = false; attempt--; continue; } // at once, as JSON, same key
      }
      await new Promise((r) => setTimeout(r, 1500 * (attempt + 1)));
    }
    return res;
  }

  async function send(text) {
    text = (text || "").trim();
    if (!text || busy || !conversationId) return;
    busy = true;
    $("send").disabled = true;
    addMessage("patient", text);
    showOptions([]);
    $("status").textContent = "Sending…";
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
    const res = await post(text, key);
    showTyping(false);
    busy = false;
    $("send").disabled = false;
    if (res.status === 200) showReplies(res.data.replies);
    else if (res.status === 401) showSignIn("Your session ended. Please sign in again.");
    else if (res.status === 0) $("status").textContent = "The connection dropped. Your message was not sent; please try again.";
    else $("status").textContent = errorText(res);
  }

  async function startChat() {
    $("sign-in").hidden = true;
    $("chat").hidden = false;
    $("sign-out").hidden = false;
    const list = await api("GET", "/api/conversations");
    const open = list.status === 200 && list.data.find((c) => c.status === "active");
    if (open) {
      conversationId = open.id;
      listen();
      await reloadHistory();
      return;
    }
    const lang = (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
    const res = await api("POST", "/api/conversations", { lang });
    if (res.status === 200) { conversationId = res.data.conversation_id; listen(); showReplies(res.data.replies); resetIdle(); }
    else $("status").textContent = errorText(res);
  }

  async function showSignIn(message) {
    if (stream) { stream.close(); stream = null; }
    conversationId = null;
    clearTimeout(idleWarn);
    clearTimeout(idleEnd);
    $("idle").hidden = true;
    showTyping(false);
    $("chat").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("log").replaceChildren();
    const res = await api("GET", "/api/demo/patients");
    const ul = $("demo-patients");
    ul.replaceChildren();
    if (res.status !== 200) { ul.textContent = "Please open this assistant from the patient portal."; return; }
    if (message) { const p = document.createElement("li"); p.textContent = message; ul.appendChild(p); }
    for (const p of res.data) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = p.name;
      b.addEventListener("click", async () => {
        const r = await api("POST", "/api/demo/sign-in", { patient: p.id });
        if (r.status === 200) startChat();
      });
      li.appendChild(b);
      ul.appendChild(li);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const t = $("message").value;
      $("message").value = "";
      send(t);
    });
    $("message").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
    });
    $("sign-out").addEventListener("click", async () => { await api("POST", "/api/sign-out"); showSignIn(); });
    $("stay").addEventListener("click", async () => {
      const me = await api("GET", "/api/me");
      if (me.status !== 200) showSignIn("Your session ended. Please sign in again.");
      $("message").focus();
    });
    window.addEventListener("offline", () => { $("status").textContent = "You are offline. Messages cannot be sent until the connection is back."; });
    window.addEventListener("online", () => { $("status").textContent = ""; });
    const me = await api("GET", "/api/me");
    if (me.status === 200) startChat(); else showSignIn();
  });
})();
