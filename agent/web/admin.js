// Admin page: edit a script's draft, validate it (problems at line:column, each one a link
// into the editor), diff it against the published version, publish it as a new version, and
// roll back to an earlier one from the version history; page through the audit log and see
// whether it verifies. Every string from the server is set as text (textContent or a form
// value), never as HTML.
"use strict";
(function () {
  const { $, api, el, errorText, formatTime } = window.StaffPage;
  const enc = encodeURIComponent;

  let me = null;
  let scriptId = null;
  let savedDraft = null; // the draft source as the server has it (null: no draft)
  let published = null; // the newest published source

  function status(text) { $("editor-status").textContent = text; }

  async function loadList() {
    const res = await api("GET", "/api/admin/scripts");
    if (res.status !== 200) { $("scripts-status").textContent = errorText(res, "The scripts could not be loaded."); return; }
    $("scripts").replaceChildren(...res.data.map((s) => {
      const li = el("li");
      const label = s.id + (s.published ? " — v" + s.published.version : " — unpublished") + (s.draft ? " (draft)" : "");
      const b = el("button", "", label);
      b.type = "button";
      b.dataset.id = s.id;
      if (s.id === scriptId) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => openScript(s.id));
      li.appendChild(b);
      return li;
    }));
  }

  function clearOutput() {
    $("validation-summary").textContent = "";
    $("validation-summary").className = "";
    $("problems").replaceChildren();
    $("conversation-tests").textContent = "";
    $("diff-area").hidden = true;
  }

  async function openScript(id) {
    const res = await api("GET", "/api/admin/scripts/" + enc(id));
    if (res.status !== 200) { $("scripts-status").textContent = errorText(res, "The script could not be opened."); return; }
    const s = res.data;
    scriptId = s.id;
    published = s.published_source;
    savedDraft = s.draft ? s.draft.source : null;
    $("pick").hidden = true;
    $("editor").hidden = false;
    $("history").hidden = false;
    $("editor-title").textContent = "Script: " + s.id;
    const newest = s.versions.length ? s.versions[s.versions.length - 1] : null;
    // A draft saved before the newest publication (it was published, or rolled back over) is
    // stale: start from the published source then.
    const fresh = s.draft && (!newest || s.draft.updated_at > newest.published_at);
    $("editor-origin").textContent = fresh
      ? "Editing the saved draft (last saved " + formatTime(s.draft.updated_at) + " by " + author(s.draft.author) + ")."
      : newest ? "Editing a copy of published version " + newest.version + "." : "Nothing published yet.";
    $("source").value = fresh ? savedDraft : (published || "");
    clearOutput();
    status("");
    renderVersions(s.versions);
    await loadList();
  }

  function author(id) {
    return me && id === me.id ? "you" : id;
  }

  function renderVersions(versions) {
    const newest = versions.length ? versions[versions.length - 1].version : null;
    $("versions").replaceChildren(...versions.slice().reverse().map((v) => {
      const tr = el("tr");
      tr.appendChild(el("td", "", "v" + v.version + (v.version === newest ? " (current)" : "")));
      tr.appendChild(el("td", "", author(v.author)));
      tr.appendChild(el("td", "", formatTime(v.published_at)));
      const td = el("td");
      if (v.version !== newest && me && me.role === "admin") {
        const b = el("button", "", "Roll back to v" + v.version);
        b.type = "button";
        b.addEventListener("click", () => rollBack(v.version));
        td.appendChild(b);
      }
      tr.appendChild(td);
      return tr;
    }));
  }

  /** Moves the editor's caret to line:column (1-based) and scrolls it into view. */
  function goTo(line, col) {
    const text = $("source").value;
    let offset = 0;
    for (let l = 1; l < line; l++) {
      const nl = text.indexOf("\n", offset);
      if (nl < 0) break;
      offset = nl + 1;
    }
    const end = text.indexOf("\n", offset);
    const pos = Math.min(offset + Math.max(col - 1, 0), end < 0 ? text.length : end);
    const ta = $("source");
    ta.focus();
    ta.setSelectionRange(pos, pos);
    const lineHeight = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function showValidation(v) {
    $("problems").replaceChildren(...v.problems.map((p) => {
      const li = el("li");
      const m = /^(.*?):(\d+):(\d+): ([\s\S]*)$/.exec(p);
      if (!m) { li.textContent = p; return li; }
      const b = el("button", "", "Line " + m[2] + ", column " + m[3] + ": " + m[4]);
      b.type = "button";
      b.addEventListener("click", () => goTo(Number(m[2]), Number(m[3])));
      li.appendChild(b);
      return li;
    }));
    $("validation-summary").className = v.valid ? "valid" : "error";
    $("validation-summary").textContent = v.valid
      ? "Valid. Publishing creates version " + v.next_version + "."
      : v.problems.length + (v.problems.length === 1 ? " problem" : " problems") + " to fix before publishing (the next version is " + v.next_version + ").";
    $("conversation-tests").textContent = v.conversation_tests ? "Conversation tests: " + v.conversation_tests : "";
  }

  /** Saves the editor's text as the draft; answers the validation, or null on failure. */
  async function saveDraft() {
    const source = $("source").value;
    const res = await api("POST", "/api/admin/scripts/" + enc(scriptId) + "/draft", { source });
    if (res.status !== 200) { status("Saving failed: " + errorText(res)); return null; }
    savedDraft = source;
    $("editor-origin").textContent = "Editing the saved draft (saved " + formatTime(Date.now()) + " by you).";
    showValidation(res.data);
    return res.data;
  }

  async function validate() {
    clearOutput();
    status("Validating…");
    if (await saveDraft()) { status("Draft saved."); await loadList(); }
  }

  async function showDiff() {
    if ($("source").value !== savedDraft && !(await saveDraft())) return;
    const res = await api("GET", "/api/admin/scripts/" + enc(scriptId) + "/diff");
    if (res.status !== 200) { status("The diff failed: " + errorText(res)); return; }
    const lines = res.text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    $("diff").replaceChildren(...lines.map((line) => {
      const cls = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "";
      return el("span", cls, line);
    }));
    if (!lines.length) $("diff").replaceChildren(el("span", "", "The draft is the same as the published version."));
    $("diff-area").hidden = false;
    status("");
  }

  async function publish() {
    status("Publishing…");
    const check = $("source").value !== savedDraft ? await saveDraft() : await validateSaved();
    if (!check) return;
    if (!check.valid) { status("Not published: fix the problems below first."); return; }
    const res = await api("POST", "/api/admin/scripts/" + enc(scriptId) + "/publish");
    if (res.status !== 200) { status("Publishing failed: " + errorText(res)); return; }
    await openScript(scriptId);
    status("Published version " + res.data.version + ".");
  }

  async function validateSaved() {
    const res = await api("POST", "/api/admin/scripts/" + enc(scriptId) + "/validate");
    if (res.status !== 200) { status("Validation failed: " + errorText(res)); return null; }
    showValidation(res.data);
    return res.data;
  }

  async function rollBack(version) {
    status("Rolling back…");
    const res = await api("POST", "/api/admin/scripts/" + enc(scriptId) + "/rollback", { version });
    if (res.status !== 200) { status("Rolling back failed: " + errorText(res)); return; }
    await openScript(scriptId);
    status("Published version " + res.data.version + " with the source of version " + version + ".");
  }

  function revert() {
    $("source").value = published || "";
    clearOutput();
    status("Loaded the published version (not saved yet).");
  }


  // --- The audit log: records a page at a time (newest first) and the verify outcome. ---
  const AUDIT_PAGE = 25;
  let auditShown = null; // {from, last, tip} of the page on screen

  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

  function auditRow(r) {
    const tr = el("tr");
    tr.appendChild(el("td", "", r.seq));
    tr.appendChild(el("td", "", formatTime(r.at)));
    tr.appendChild(el("td", "", r.actor));
    tr.appendChild(el("td", "", r.action));
    tr.appendChild(el("td", "hash", r.hash));
    return tr;
  }

  /** Shows the page of records starting at `from` (the newest page when null). */
  async function loadAudit(from) {
    const res = await api("GET", "/api/admin/audit?limit=" + AUDIT_PAGE + (from ? "&from=" + from : ""));
    if (res.status !== 200) { $("audit-page").textContent = errorText(res, "The audit log could not be loaded."); return; }
    const d = res.data;
    const last = d.records.length ? d.records[d.records.length - 1].seq : d.from - 1;
    auditShown = { from: d.from, last, tip: d.tip };
    $("audit-rows").replaceChildren(...d.records.slice().reverse().map(auditRow));
    $("audit-page").textContent = d.records.length
      ? "Records " + d.from + " to " + last + " of " + d.tip + ", newest first."
      : "No records here (the log holds " + plural(d.tip, "record", "records") + ").";
    $("audit-older").disabled = d.from <= 1;
    $("audit-newer").disabled = last >= d.tip;
  }

  async function verifyAudit() {
    const s = $("audit-verify");
    s.className = "";
    s.textContent = "Verifying the whole log…";
    const res = await api("GET", "/api/admin/audit/verify");
    if (res.status !== 200) { s.className = "error"; s.textContent = "The check could not run: " + errorText(res); return; }
    const v = res.data;
    if (v.status === "verified") {
      s.className = "valid";
      s.textContent = "Audit log verified: " + plural(v.records, "record", "records") + ", "
        + plural(v.checkpoints, "signed checkpoint", "signed checkpoints") + " reproduced"
        + (v.signed_size < v.records ? " (records after " + v.signed_size + " not signed yet)" : "")
        + ". Checked " + formatTime(v.checked_at) + ".";
    } else {
      s.className = "error";
      s.textContent = "Audit log NOT verified" + (v.first_bad_record ? ", first bad record " + v.first_bad_record : "")
        + ": " + v.message + ". Checked " + formatTime(v.checked_at) + ".";
    }
  }

  async function toggleAudit() {
    const open = $("audit-open").getAttribute("aria-expanded") !== "true";
    $("audit-open").setAttribute("aria-expanded", String(open));
    $("audit-open").textContent = open ? "Hide the audit log" : "Show the audit log";
    $("audit-body").hidden = !open;
    if (open) await Promise.all([loadAudit(null), verifyAudit()]);
  }

  function pageAudit(direction) {
    if (!auditShown) return loadAudit(null);
    if (direction < 0) return loadAudit(Math.max(1, auditShown.from - AUDIT_PAGE));
    const next = auditShown.last + 1;
    return loadAudit(next + AUDIT_PAGE > auditShown.tip ? null : next);
  }

  async function onSignedIn(who) {
    me = who;
    if (who.role !== "admin" && who.role !== "auditor") {
      $("scripts-status").textContent = "Your role (" + who.role + ") does not manage scripts.";
      $("audit").hidden = true;
      return;
    }
    $("audit").hidden = false;
    const readOnly = who.role !== "admin";
    for (const id of ["validate", "publish", "show-diff"]) $(id).disabled = readOnly;
    $("source").readOnly = readOnly;
    await loadList();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("validate").addEventListener("click", validate);
    $("show-diff").addEventListener("click", showDiff);
    $("publish").addEventListener("click", publish);
    $("revert").addEventListener("click", revert);
    $("audit-open").addEventListener("click", toggleAudit);
    $("audit-reverify").addEventListener("click", verifyAudit);
    $("audit-older").addEventListener("click", () => pageAudit(-1));
    $("audit-newer").addEventListener("click", () => pageAudit(1));
    window.StaffPage.start(onSignedIn, () => { me = null; });
  });
})();
