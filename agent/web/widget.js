// Patient chat widget. Model output is only ever inserted as text (textContent), never as HTML.
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

  async function send(text) {
    text = (text || "").trim();
    if (!text || busy || !conversationId) return;
    busy = true;
    $("send").disabled = true;
    addMessage("patient", text);
    showOptions([]);
    $("status").textContent = "The assistant is typing…";
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
    let res;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        res = await api("POST", "/api/conversations/" + encodeURIComponent(conversationId) + "/messages",
          { text }, { "Idempotency-Key": key });
        if (res.status !== 503) break;
      } catch (_) { res = { status: 0, data: null }; }
      await new Promise((r) => setTimeout(r, 1500 * (attempt + 1)));
    }
    $("status").textContent = "";
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
    $("status").textContent = "";
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
