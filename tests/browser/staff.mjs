// Staff helpers for the browser tests: accounts made with the real `agent users add` CLI, RFC
// 6238 codes computed from the secret it prints, the two-step sign-in through the page, and
// axe-core injected into a page.
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Adds a staff member with `agent users add`; answers the password and the TOTP secret. */
export function addStaff(agent, username, role) {
  const password = randomBytes(12).toString("base64url");
  const out = execFileSync(agent.bin, ["users", "add", username, "--role", role], {
    env: agent.env, cwd: agent.data, input: password + "\n", encoding: "utf8",
  });
  const m = /totp secret: ([A-Z2-7]+)/.exec(out);
  if (!m) throw new Error("no TOTP secret in: " + out);
  return { username, password, secret: m[1] };
}

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30-second steps) for `secret` at time step `step`. */
export function totp(secret, step = Math.floor(Date.now() / 30_000)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

/** Opens `path` and signs in through its forms: password, then the code. */
export async function signIn(page, baseUrl, path, user) {
  await page.goto(baseUrl + path);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Six-digit code from your authenticator app").fill(totp(user.secret));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(`${user.username} (`).waitFor();
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A/AA and
 *  best practices), as "rule: target" lines. Evaluated through DevTools, so the page's CSP
 *  does not need loosening. */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
  }));
  const lines = (keep) => result.violations.filter((v) => keep(v.impact))
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${v.help}`));
  const minor = lines((i) => i !== "serious" && i !== "critical");
  if (minor.length) console.log("axe, moderate or minor:", minor.join("; "));
  return lines((i) => i === "serious" || i === "critical");
}

/** Collects what a page must not do: requests to another host, script errors, dialogs. */
export function watch(page, baseUrl) {
  const seen = { foreign: [], errors: [], dialogs: [] };
  page.on("request", (r) => { if (!r.url().startsWith(baseUrl)) seen.foreign.push(r.url()); });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  // A sign-in page asks who is signed in first: that one 401 is expected.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("status of 401")) seen.errors.push(m.text()); });
  page.on("dialog", (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return seen;
}

/** Signs `user` in through the API; answers a bearer token for `staffFetch`. */
export async function staffToken(agent, user) {
  const post = (path, body, token) => fetch(agent.baseUrl + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const first = await post("/api/staff/login", { username: user.username, password: user.password });
  if (first.status !== 200) throw new Error(`staff login: ${first.status}`);
  const second = await post("/api/staff/login/totp", { code: totp(user.secret) }, (await first.json()).token);
  if (second.status !== 200) throw new Error(`staff second factor: ${second.status}`);
  return (await second.json()).token;
}

/** A staff API call with a bearer token; throws unless it succeeds. */
export async function staffFetch(agent, token, method, path, body) {
  const resp = await fetch(agent.baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${await resp.text()}`);
  return resp;
}
