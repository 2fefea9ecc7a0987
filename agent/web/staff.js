// Shared by the staff pages (console, admin): the API helper, text-only element building, and
// the two-step sign-in (password, then the TOTP code). Strings from the server only ever go
// into textContent or form values, never into HTML.
"use strict";
window.StaffPage = (function () {
  const $ = (id) => document.getElementById(id);
  let onExpired = null;

  /** Calls the API with the staff cookie; answers {status, data, text}. */
  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      return { status: 0, data: null, text: "" };
    }
    const text = await resp.text();
    let data = null;
    try { data = JSON.parse(text); } catch (_) { data = null; }
    const signedIn = !path.startsWith("/api/staff/login") && path !== "/api/staff/me";
    if (resp.status === 401 && signedIn && onExpired) onExpired();
    return { status: resp.status, data, text, date: resp.headers.get("Date") };
  }

  /** The diagnostics of an OperationOutcome, or `fallback`. */
  function errorText(res, fallback) {
    if (res.status === 0) return "The server cannot be reached. Check the connection and try again.";
    const issue = res.data && res.data.issue && res.data.issue[0];
    if (issue && issue.diagnostics) return issue.diagnostics;
    if (res.status === 403) return "Your role does not allow this.";
    return fallback || "Something went wrong (status " + res.status + ").";
  }

  /** A new element whose content is `text` as plain text. */
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function formatTime(ms) {
    if (!ms) return "built in";
    return new Date(ms).toLocaleString();
  }

  function showSignIn(message) {
    $("app").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    $("totp-form").hidden = true;
    $("password-form").hidden = false;
    $("password").value = "";
    $("sign-in-error").textContent = message || "";
    $("username").focus();
  }

  async function showApp(me, onSignedIn) {
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.username + " (" + me.role + ")";
    await onSignedIn(me);
  }

  async function afterSecondFactor(onSignedIn) {
    const me = await api("GET", "/api/staff/me");
    if (me.status === 200) await showApp(me.data, onSignedIn);
    else showSignIn(errorText(me, "Signing in failed."));
  }

  function wireSignIn(onSignedIn) {
    $("password-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      $("sign-in-error").textContent = "";
      const res = await api("POST", "/api/staff/login", { username: $("username").value, password: $("password").value });
      $("password").value = "";
      if (res.status !== 200) {
        $("sign-in-error").textContent = res.status === 401 ? "Wrong username or password (or the account is locked)." : errorText(res);
        return;
      }
      $("password-form").hidden = true;
      $("totp-form").hidden = false;
      $("totp-code").value = "";
      $("totp-code").focus();
    });
    $("totp-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      $("sign-in-error").textContent = "";
      const res = await api("POST", "/api/staff/login/totp", { code: $("totp-code").value.trim() });
      if (res.status === 200) { await afterSecondFactor(onSignedIn); return; }
      if (res.status === 401) { showSignIn("That code was not accepted. Sign in again."); return; }
      $("sign-in-error").textContent = errorText(res);
    });
    $("sign-out").addEventListener("click", async () => {
      await api("POST", "/api/staff/logout");
      window.location.reload();
    });
  }

  /**
   * Wires the sign-in forms and shows the page for a signed-in member, or the sign-in form.
   * `onSignedIn(me)` loads the page's data (again after a new sign-in); `onSignedOut()` stops
   * its live updates when the session ends.
   */
  async function start(onSignedIn, onSignedOut) {
    onExpired = () => {
      if ($("app").hidden) return;
      if (onSignedOut) onSignedOut();
      showSignIn("Your session ended (15 minutes without activity, or 12 hours in all). Please sign in again.");
    };
    wireSignIn(onSignedIn);
    const me = await api("GET", "/api/staff/me");
    if (me.status === 200) await showApp(me.data, onSignedIn);
    else showSignIn();
  }

  return { $, api, el, errorText, formatTime, start };
})();
