// Outcomes page (admins): containment, time to a person by priority, escalations by reason,
// SLA breaches and conversations finished by script, from /api/admin/outcomes. Every string
// from the server is set as text, never as HTML.
"use strict";
(function () {
  const { $, api, el, errorText } = window.StaffPage;

  /** Fills `table` with a header row and one row per entry of `rows` (arrays of cells). */
  function fill(table, headers, rows) {
    const head = el("tr");
    headers.forEach((h) => { const th = el("th", "", h); th.scope = "col"; head.appendChild(th); });
    const body = rows.length ? rows.map((cells) => {
      const tr = el("tr");
      cells.forEach((c) => tr.appendChild(el("td", "", c)));
      return tr;
    }) : [(() => { const tr = el("tr"); const td = el("td", "", "None yet"); td.colSpan = headers.length; tr.appendChild(td); return tr; })()];
    $(table).replaceChildren(head, ...body);
  }

  function minutes(ms) {
    return (ms / 60000).toFixed(1) + " min";
  }

  function counts(obj) {
    return Object.keys(obj).map((k) => [k, String(obj[k])]);
  }

  async function load() {
    const res = await api("GET", "/api/admin/outcomes");
    if (res.status !== 200) { $("status").textContent = errorText(res, "The figures could not be loaded."); return; }
    const o = res.data;
    $("containment").textContent = "Containment: " + (o.containment * 100).toFixed(1) + "% — the share of conversations that ended without needing a person.";
    fill("conversations", ["Outcome", "Conversations"], [
      ["Finished without a person", String(o.contained)],
      ["Escalated to a person", String(o.escalated)],
      ["Open", String(o.active)],
    ]);
    fill("waits", ["Priority", "Cases", "Median", "90th percentile"],
      Object.keys(o.time_to_person).map((p) => {
        const w = o.time_to_person[p];
        return [p, String(w.count), minutes(w.median_ms), minutes(w.p90_ms)];
      }));
    fill("reasons", ["Reason", "Escalations"], counts(o.escalations_by_reason));
    fill("breaches", ["Priority", "Breaches"], counts(o.sla_breaches));
    fill("completed", ["Script", "Finished"], counts(o.completed_by_script));
    $("status").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  }

  $("refresh").addEventListener("click", load);
  window.StaffPage.start(load);
})();
