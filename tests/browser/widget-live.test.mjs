// The widget's live side in a real browser: a care-team message sent while the widget's
// connection was down shows once it reconnects; a patient left idle is warned before the
// 15-minute sign-out, can stay signed in, and is then signed out (the page's clock is faked).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { startAgent, startBrowser, startRelay } from "./harness.mjs";
import { addStaff, staffToken, staffFetch, watch } from "./staff.mjs";

let agent, browser;
before(async () => { agent = await startAgent(); browser = await startBrowser(); });
after(async () => { await browser?.close(); agent?.stop(); });

async function patient(name, { baseUrl = agent.baseUrl, beforeGoto } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (beforeGoto) await beforeGoto(page);
  const seen = watch(page, baseUrl);
  await page.goto(baseUrl + "/");
  await page.getByRole("button", { name }).click();
  await page.locator("#log li.agent").first().waitFor();
  return { page, context, seen };
}

test("the widget reconnects after a dropped connection and shows what it missed", { timeout: 60_000 }, async () => {
  const relay = await startRelay(agent.baseUrl);
  try {
    const { page, context, seen } = await patient("John Smith", { baseUrl: relay.baseUrl });
    const conversations = await (await context.request.get(relay.baseUrl + "/api/conversations")).json();
    const conv = conversations.find((c) => c.status === "active").id;
    const token = await staffToken(agent, addStaff(agent, "rc.coordinator", "coordinator"));

    // The network drops; the widget says so. While it is cut off the care team writes.
    relay.cut();
    await page.getByText("Connection lost. Reconnecting…").waitFor({ timeout: 10_000 });
    await staffFetch(agent, token, "POST", `/api/staff/conversations/${conv}/takeover`);
    await staffFetch(agent, token, "POST", `/api/staff/conversations/${conv}/messages`, { text: "We saw your message while you were offline." });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await page.locator("#log li.staff").count(), 0, "nothing arrives while cut off");

    // Back: the widget reconnects by itself and reloads what it missed.
    relay.restore();
    await page.getByText("Reconnected.").waitFor({ timeout: 30_000 });
    await page.locator("#log li.staff", { hasText: "We saw your message while you were offline." }).waitFor();
    // Live again: the next message arrives over the stream, and nothing is shown twice.
    await staffFetch(agent, token, "POST", `/api/staff/conversations/${conv}/messages`, { text: "Still there?" });
    await page.locator("#log li.staff", { hasText: "Still there?" }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#log li.staff", { hasText: "We saw your message" }).count(), 1, "no duplicate after the reload");
    assert.deepEqual(seen.foreign, []);
  } finally {
    relay.close();
  }
});

test("an idle patient is warned before the 15-minute sign-out, and then signed out", { timeout: 60_000 }, async () => {
  const { page, context, seen } = await patient("Aisha Khan", { beforeGoto: (p) => p.clock.install() });
  const notice = page.getByText("For your privacy you will be signed out in 2 minutes");
  assert.equal(await notice.isVisible(), false);
  await page.clock.fastForward("13:01");
  await notice.waitFor();
  await page.getByRole("button", { name: "Stay signed in" }).click();
  await notice.waitFor({ state: "hidden" });

  await page.clock.fastForward("13:01");
  await notice.waitFor();
  await page.clock.fastForward("02:00");
  await page.getByText("You were signed out after 15 minutes without activity").waitFor();
  assert.equal(await page.locator("#chat").isVisible(), false, "the conversation is off the screen");
  assert.equal((await context.request.get(agent.baseUrl + "/api/me")).status(), 401, "the session is ended on the server too");
  assert.deepEqual(seen.errors.filter((e) => !e.includes("401")), []);
});
