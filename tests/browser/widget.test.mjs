// A patient books an appointment in the widget, in a real browser against the real server; the
// widget streams each turn (typing indicator while the server works) and falls back to JSON
// when streaming fails.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAgent, startBrowser, artifacts } from "./harness.mjs";

let agent, browser;
before(async () => { agent = await startAgent(); browser = await startBrowser(); });
after(async () => { await browser?.close(); agent?.stop(); });

test("a patient books an appointment in the widget", { timeout: 300_000 }, async () => {
  const page = await browser.newPage();
  const foreign = [];
  const errors = [];
  const posts = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(agent.baseUrl)) foreign.push(r.url());
    if (r.method() === "POST" && r.url().endsWith("/messages")) posts.push(r.headers()["accept"]);
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  // The widget asks /api/me before sign-in: that one 401 is expected.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("status of 401")) errors.push(m.text()); });

  await page.goto(agent.baseUrl + "/");
  await page.getByRole("button", { name: "Wei Chen" }).click();
  const log = page.locator("#log");
  await log.locator("li.agent").first().waitFor();
  assert.match(await log.locator("li.agent").first().textContent(), /Wei Chen/);
  assert.equal(await page.locator("#sign-in").isVisible(), false, "the sign-in list is gone once signed in");

  // The server's `progress` event brings up the typing indicator while the turn runs. A fast
  // turn can take it away again before a poll would see it: record every state it is in.
  await page.evaluate(() => {
    window.__typing = { dots: false, status: false };
    const typing = "The assistant is typing…";
    new MutationObserver((records) => {
      for (const r of records) {
        const added = [...r.addedNodes];
        if (r.target.id === "status" && added.some((n) => n.textContent === typing)) window.__typing.status = true;
        if (added.some((n) => n.id === "typing" && !n.hidden)) window.__typing.dots = true;
        if (r.target.id === "typing" && r.attributeName === "hidden" && r.oldValue !== null) window.__typing.dots = true;
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeOldValue: true });
  });
  await page.getByLabel("Your message").fill("I need an appointment with cardiology next week");
  await page.keyboard.press("Enter");
  const firstSlot = page.locator("#options button").first();
  await firstSlot.waitFor({ timeout: 120_000 });
  assert.deepEqual(await page.evaluate(() => window.__typing), { dots: true, status: true }, "the typing indicator and its status text showed during the turn");
  const slot = await firstSlot.textContent();
  await firstSlot.click();
  try {
    await page.getByRole("button", { name: "Yes" }).click({ timeout: 120_000 });
  } catch (e) {
    await page.screenshot({ path: join(artifacts, "widget-failed.png"), fullPage: true });
    throw new Error(`${e}\npage log: ${await log.textContent()}\nagent log tail: ${agent.logs().slice(-2000)}`);
  }
  await log.getByText(/booked/i).waitFor({ timeout: 120_000 });
  const last = await log.locator("li.agent").last().textContent();
  assert.ok(last.includes(slot.split(" with ")[0]), `recap names the slot: ${last}`);

  await page.screenshot({ path: join(artifacts, "widget-booked.png"), fullPage: true });
  assert.equal(await page.locator("#typing").isVisible(), false, "no typing indicator once answered");
  assert.ok(posts.length >= 3 && posts.every((a) => a === "text/event-stream"), `every turn streamed: ${posts}`);
  assert.deepEqual(foreign, [], "no request leaves for another host");
  assert.deepEqual(errors, [], "no script errors (CSP violations included)");
});

test("when streaming fails the widget posts the same message as JSON", { timeout: 180_000 }, async () => {
  const page = await (await browser.newContext()).newPage();
  const posts = [];
  // The streamed post never reaches the server (as if a proxy dropped it).
  await page.route("**/api/conversations/*/messages", (route) => {
    const r = route.request();
    if (r.method() !== "POST") return route.continue();
    posts.push(r.headers()["accept"]);
    return r.headers()["accept"] === "text/event-stream" ? route.abort("connectionreset") : route.continue();
  });
  await page.goto(agent.baseUrl + "/");
  await page.getByRole("button", { name: "John Smith" }).click();
  const agentReplies = page.locator("#log li.agent");
  await agentReplies.first().waitFor();
  const before = await agentReplies.count();
  await page.getByLabel("Your message").fill("I need an appointment with cardiology next week");
  await page.keyboard.press("Enter");
  await agentReplies.nth(before).waitFor({ timeout: 120_000 });
  assert.deepEqual(posts, ["text/event-stream", "application/json"], "streamed first, then JSON");
  assert.doesNotMatch(await page.locator("#status").textContent(), /dropped|wrong/);
  assert.equal(await page.locator("#typing").isVisible(), false);
});
