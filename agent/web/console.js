// Coordinator console: the escalation queue by priority with SLA countdowns and filters, one
// case's context and transcript, claim, live takeover chat, hand back and resolve. Live
// updates come from the queue's server-sent events. Every string from the server is set as
// text (textContent), never as HTML.
"use strict";
(function () {
  const { $, api, el, errorText, formatTime } = window.StaffPage;
  const REASONS = {
    red_flag: "Red flag", asked_for_person: "Asked for a person", low_confidence: "Low confidence",
    workflow_failure: "Workflow failure", no_reply: "No reply", script: "Script step",
  };
  const STATUSES = { new: "New", claimed: "Claimed", in_progress: "In progress", resolved: "Resolved" };
  const ROLES = { patient: "Patient", agent: "Assistant", staff: "Care team" };
  const CONVERSATION_EVENTS = ["takeover", "handback", "staff_message", "patient_message"];

  let me = null;
  let cases = [];
  let current = null; // the open case's context bundle
  let skewMs = 0; // server clock minus browser clock
  let events = null;
  let reloadTimer = null;

  const enc = encodeURIComponent;

  function reasonText(reason) {
    if (!reason || typeof reason !== "object") return String(reason || "");
    const kind = REASONS[reason.kind] || String(reason.kind || "");
    return typeof reason.detail === "string" ? kind + ": " + reason.detail.replace(/_/g, " ") : kind;
  }

  function slaText(c) {
    const left = c.due_at - (Date.now() + skewMs);
    const s = Math.round(Math.abs(left) / 1000);
    const span = s >= 3600 ? Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"
      : Math.floor(s / 60) + " min " + (s % 60) + " s";
    return left >= 0 ? "due in " + span : "overdue by " + span;
  }

  function filtered() {
    const p = $("filter-priority").value, st = $("filter-status").value, r = $("filter-reason").value;
    const mine = $("filter-mine").checked;
    return cases.filter((c) => (!p || c.priority === p) && (!st || c.status === st)
      && (!r || (c.reason && c.reason.kind === r)) && (!mine || (me && c.claimed_by === me.id)));
  }

  function caseRow(c) {
    const tr = el("tr");
    tr.dataset.id = c.id;
    if (current && current.case.id === c.id) tr.className = "selected";
    const prio = el("td");
    const known = ["urgent", "high", "normal"].includes(c.priority) ? c.priority : "normal";
    prio.appendChild(el("span", "badge " + known, c.priority));
    tr.appendChild(prio);
    tr.appendChild(el("td", "", reasonText(c.reason)));
    const mine = me && c.claimed_by === me.id ? " (you)" : "";
    tr.appendChild(el("td", "", (STATUSES[c.status] || c.status) + mine));
    const sla = el("td", "sla");
    sla.appendChild(el("time", "", slaText(c)));
    tr.appendChild(sla);
    const actions = el("td");
    const open = el("button", "", "Open");
    open.type = "button";
    open.setAttribute("aria-label", "Open " + c.priority + " case: " + reasonText(c.reason));
    open.addEventListener("click", () => openCase(c.id));
    actions.appendChild(open);
    tr.appendChild(actions);
    return tr;
  }

  function renderQueue() {
    const rows = filtered();
    $("queue-rows").replaceChildren(...rows.map(caseRow));
    $("queue-empty").hidden = rows.length > 0;
    tickSla();
  }

  function tickSla() {
    for (const tr of $("queue-rows").children) {
      const c = cases.find((x) => x.id === tr.dataset.id);
      if (!c) continue;
      const cell = tr.querySelector(".sla");
      cell.firstChild.textContent = slaText(c);
      cell.classList.toggle("overdue", c.due_at <= Date.now() + skewMs);
    }
    if (current) {
      const dd = $("case-facts").querySelector("[data-sla]");
      if (dd) dd.textContent = slaText(current.case);
    }
  }

  async function loadQueue() {
    const res = await api("GET", "/api/staff/escalations");
    if (res.status !== 200) { $("live").textContent = errorText(res, "The queue could not be loaded."); return; }
    if (res.date) skewMs = new Date(res.date).getTime() - Date.now();
    cases = res.data;
    if (current) {
      const fresh = cases.find((c) => c.id === current.case.id);
      if (fresh) { current.case = fresh; renderCase(); }
      else if (current.case.status !== "resolved") { closeCase("This case is no longer open (resolved)."); }
    }
    renderQueue();
  }

  function scheduleReload() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadQueue, 150);
  }

  function fact(dl, name, value, attr) {
    dl.appendChild(el("dt", "", name));
    const dd = el("dd", "", value);
    if (attr) dd.setAttribute(attr, "");
    dl.appendChild(dd);
  }

  function renderCase() {
    const c = current.case;
    const dl = $("case-facts");
    dl.replaceChildren();
    fact(dl, "Priority", c.priority);
    fact(dl, "Reason", reasonText(c.reason));
    const holder = c.claimed_by ? (me && c.claimed_by === me.id ? "you" : "another coordinator") : "";
    fact(dl, "Status", (STATUSES[c.status] || c.status) + (holder ? " by " + holder : ""));
    fact(dl, "SLA", slaText(c), "data-sla");
    fact(dl, "Opened", formatTime(c.created_at));
    fact(dl, "Patient", "Patient/" + c.patient_id);
    const chat = !current.taken_over_by ? "with the assistant" : holds() ? "taken over by you" : "taken over by another coordinator";
    fact(dl, "Chat", chat);
    if (current.script) fact(dl, "Script", current.script.id + (current.script.version ? " v" + current.script.version : ""));
    if (current.note) fact(dl, "Note", current.note);
    const mine = me && c.claimed_by === me.id;
    const holding = holds();
    $("claim").disabled = c.status !== "new";
    $("take-over").disabled = Boolean(current.taken_over_by) || c.status === "resolved" || Boolean(c.claimed_by && !mine);
    $("hand-back").disabled = !holding;
    $("staff-message").disabled = !holding;
    $("staff-send").disabled = !holding;
    $("resolve").disabled = c.status === "resolved";
  }

  /** This member has the open case's conversation taken over. */
  function holds() {
    return Boolean(current && me && current.taken_over_by === me.id);
  }

  /** A slot value as readable text: "name: value" pairs, nulls left out. */
  function describe(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.map(describe).join("; ");
    if (typeof v !== "object") return String(v);
    const parts = Object.entries(v).filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => k.replace(/_/g, " ") + ": " + (x && typeof x === "object" && !Array.isArray(x) ? "(" + describe(x) + ")" : describe(x)));
    return parts.join(", ");
  }

  function renderContext() {
    const slots = $("slots");
    slots.replaceChildren();
    const s = current.slots;
    if (s && typeof s === "object" && Object.keys(s).length) {
      for (const [k, v] of Object.entries(s)) fact(slots, k.replace(/_/g, " "), describe(v));
    } else {
      fact(slots, "Slots", "none extracted");
    }
    $("fhir-refs").replaceChildren(...(current.fhir_references || []).map((r) => el("li", "", r)));
  }

  function renderTranscript(messages) {
    const ol = $("transcript");
    ol.replaceChildren(...messages.map((m) => {
      const li = el("li", ROLES[m.role] ? m.role : "agent");
      li.appendChild(el("span", "who", ROLES[m.role] || m.role));
      li.appendChild(document.createTextNode(m.text));
      return li;
    }));
    ol.scrollTop = ol.scrollHeight;
  }

  async function openCase(id) {
    const res = await api("GET", "/api/staff/escalations/" + enc(id));
    if (res.status !== 200) { $("live").textContent = errorText(res, "The case could not be opened."); return; }
    current = res.data;
    $("case-empty").hidden = true;
    $("case-body").hidden = false;
    $("case-status").textContent = "";
    renderCase();
    renderContext();
    renderTranscript(current.transcript || []);
    renderQueue();
  }

  function closeCase(message) {
    current = null;
    $("case-body").hidden = true;
    $("case-empty").hidden = false;
    $("case-empty").textContent = message || "Choose a case from the queue.";
  }

  async function reloadTranscript() {
    if (!current) return;
    const res = await api("GET", "/api/staff/conversations/" + enc(current.case.conversation_id) + "/messages");
    if (res.status === 200) renderTranscript(res.data);
  }

  /** Runs one case action; shows its error; reloads the case and the queue. */
  async function act(label, call) {
    if (!current) return false;
    $("case-status").textContent = label + "…";
    const res = await call();
    if (res.status >= 200 && res.status < 300) {
      $("case-status").textContent = label + ": done.";
      return true;
    }
    $("case-status").textContent = label + " failed: " + errorText(res);
    await loadQueue();
    return false;
  }

  async function claim() {
    const c = current.case;
    if (await act("Claim", () => api("POST", "/api/staff/escalations/" + enc(c.id) + "/claim", { version: c.version }))) {
      await openCase(c.id);
    }
  }

  async function takeOver() {
    const conv = current.case.conversation_id;
    if (await act("Take over", () => api("POST", "/api/staff/conversations/" + enc(conv) + "/takeover"))) {
      await openCase(current.case.id);
      $("staff-message").focus();
    }
  }

  async function handBack() {
    const conv = current.case.conversation_id;
    if (await act("Hand back", () => api("POST", "/api/staff/conversations/" + enc(conv) + "/handback"))) {
      await openCase(current.case.id);
    }
  }

  async function sendMessage(e) {
    e.preventDefault();
    const text = $("staff-message").value.trim();
    if (!text || !current) return;
    const conv = current.case.conversation_id;
    if (await act("Send", () => api("POST", "/api/staff/conversations/" + enc(conv) + "/messages", { text }))) {
      $("staff-message").value = "";
      await reloadTranscript();
    }
  }

  async function resolve(e) {
    e.preventDefault();
    const note = $("resolve-note").value.trim();
    if (!note || !current) return;
    const c = current.case;
    const ok = await act("Resolve", () => api("POST", "/api/staff/escalations/" + enc(c.id) + "/resolve", { note, version: c.version }));
    if (ok) {
      $("resolve-note").value = "";
      closeCase("Case resolved.");
      await loadQueue();
      $("live").textContent = "Case resolved.";
    }
  }

  function onQueueEvent(ev) {
    let data = {};
    try { data = JSON.parse(ev.data); } catch (_) { /* keep-alive or malformed: reload anyway */ }
    if (data.kind === "sla_breach") $("live").textContent = "A case is past its SLA.";
    if (data.kind === "created") $("live").textContent = "A new case arrived.";
    if (current && data.conversation === current.case.conversation_id) {
      // A takeover or hand-back changes who may write; a message only the transcript.
      if (data.kind === "takeover" || data.kind === "handback") openCase(current.case.id);
      else if (CONVERSATION_EVENTS.includes(data.kind)) reloadTranscript();
    }
    scheduleReload();
  }

  function connect() {
    if (events) events.close();
    events = new EventSource("/api/staff/escalations/events");
    events.addEventListener("queue", onQueueEvent);
    events.addEventListener("lagged", scheduleReload);
    events.addEventListener("open", () => { $("live").textContent = "Live updates on."; scheduleReload(); });
    events.addEventListener("error", () => {
      $("live").textContent = "Live updates interrupted; reconnecting…";
      // The browser retries by itself; a closed stream (e.g. the session ended) is retried here.
      if (events.readyState === EventSource.CLOSED) setTimeout(() => { if (me) loadQueue().then(() => me && connect()); }, 5000);
    });
  }

  function stop() {
    if (events) { events.close(); events = null; }
    me = null;
    cases = [];
    closeCase();
  }

  async function onSignedIn(who) {
    me = who;
    if (who.role !== "coordinator" && who.role !== "clinician") {
      $("live").textContent = "Your role (" + who.role + ") does not work the queue.";
      return;
    }
    await loadQueue();
    connect();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["filter-priority", "filter-status", "filter-reason", "filter-mine"]) {
      $(id).addEventListener("change", renderQueue);
    }
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("claim").addEventListener("click", claim);
    $("take-over").addEventListener("click", takeOver);
    $("hand-back").addEventListener("click", handBack);
    $("staff-composer").addEventListener("submit", sendMessage);
    $("staff-message").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("staff-composer").requestSubmit(); }
    });
    $("resolve-form").addEventListener("submit", resolve);
    setInterval(tickSla, 1000);
    window.StaffPage.start(onSignedIn, stop);
  });
})();
