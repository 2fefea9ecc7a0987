// Patient chat widget. Model output is only ever inserted as text (textContent), never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let conversationId = null;
  let busy = false;

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; }
    return { status: resp.status, data };
  }

  function addMessage(role, text) {
    const li = document.createElement("li");
    li.className = role;
    li.textContent = text;
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
      const hist = await api("GET", "/api/conversations/" + encodeURIComponent(open.id) + "/messages");
      if (hist.status === 200) showReplies(hist.data);
      return;
    }
    const lang = (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
    const res = await api("POST", "/api/conversations", { lang });
    if (res.status === 200) { conversationId = res.data.conversation_id; showReplies(res.data.replies); }
    else $("status").textContent = errorText(res);
  }

  async function showSignIn(message) {
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
    const me = await api("GET", "/api/me");
    if (me.status === 200) startChat(); else showSignIn();
  });
})();
