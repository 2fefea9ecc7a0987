// Staff pages in a real browser against the real server: a coordinator claims a red-flag case
// and takes over the patient's chat; an admin publishes a script change, rolls it back and
// sees both in the audit log, which verifies; the three pages (the admin page with its audit
// log open) have no serious or critical axe-core violation. Screenshots go to tests/artifacts.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAgent, startBrowser, artifacts } from "./harness.mjs";
import { addStaff, signIn, axeViolations, watch } from "./staff.mjs";

let agent, browser, coordinator, admin;
before(async () => {
  agent = await startAgent();
  browser = await startBrowser();
  coordinator = addStaff(agent, "sam.coordinator", "coordinator");
  admin = addStaff(agent, "ada.admin", "admin");
});
after(async () => { await browser?.close(); agent?.stop(); });

const shot = (page, name) => page.screenshot({ path: join(artifacts, name), fullPage: true });

async function patientSignsIn(name) {
  const page = await (await browser.newContext()).newPage();
  const seen = watch(page, agent.baseUrl);
  await page.goto(agent.baseUrl + "/");
  await page.getByRole("button", { name }).click();
  await page.locator("#log li.agent").first().waitFor();
  return { page, seen };
}

async function patientSays(page, text) {
  const before = await page.locator("#log li.agent").count();
  await page.getByLabel("Your message").fill(text);
  await page.keyboard.press("Enter");
  await page.locator("#log li.agent").nth(before).waitFor({ timeout: 60_000 });
}

function assertClean(seen, who) {
  assert.deepEqual(seen.foreign, [], `${who}: no request leaves for another host`);
  assert.deepEqual(seen.errors, [], `${who}: no script errors (CSP violations included)`);
  assert.deepEqual(seen.dialogs, [], `${who}: no dialog`);
}

test("a coordinator claims a red-flag case and takes over the chat", { timeout: 120_000 }, async () => {
  const console_ = await (await browser.newContext()).newPage();
  const staffSeen = watch(console_, agent.baseUrl);
  await signIn(console_, agent.baseUrl, "/console", coordinator);
  await console_.getByText("Live updates on.").waitFor();

  // The case arrives live: the console is already open when the patient reports chest pain.
  const { page: widget, seen: patientSeen } = await patientSignsIn("Wei Chen");
  await patientSays(widget, "I have crushing chest pain");
  const row = console_.locator("#queue-rows tr", { hasText: "Red flag: chest pain" });
  await row.waitFor({ timeout: 10_000 });
  assert.match(await row.textContent(), /urgent/);
  assert.match(await row.locator(".sla").textContent(), /due in \d+ min \d+ s/);

  // Filters: a normal-priority filter hides the urgent case; All shows it again.
  await console_.getByLabel("Priority").selectOption("normal");
  await console_.getByText("No open cases match.").waitFor();
  await console_.getByLabel("Priority").selectOption("");
  await row.waitFor();

  await row.getByRole("button", { name: /^Open urgent case/ }).click();
  await console_.locator("#transcript li.patient", { hasText: "I have crushing chest pain" }).waitFor();
  await console_.getByRole("button", { name: "Claim" }).click();
  await console_.locator("#case-facts").getByText("Claimed by you").waitFor();
  await shot(console_, "console-claimed.png");

  await console_.getByRole("button", { name: "Take over the chat" }).click();
  await widget.locator("#log li.staff", { hasText: "A member of our care team has joined" }).waitFor({ timeout: 10_000 });
  await console_.getByLabel("Message to the patient").fill("Hello Wei, this is Sam from the care team. Are you safe right now?");
  await console_.getByRole("button", { name: "Send" }).click();
  await widget.locator("#log li.staff", { hasText: "this is Sam from the care team" }).waitFor({ timeout: 10_000 });

  // The patient's answer reaches the console live; the agent stays silent.
  const agentRepliesBefore = await widget.locator("#log li.agent").count();
  await widget.getByLabel("Your message").fill("Yes, my wife is driving me to the emergency room");
  await widget.keyboard.press("Enter");
  await console_.locator("#transcript li.patient", { hasText: "driving me to the emergency room" }).waitFor({ timeout: 10_000 });
  assert.equal(await widget.locator("#log li.agent").count(), agentRepliesBefore, "no agent reply while taken over");
  await shot(widget, "widget-takeover.png");
  await shot(console_, "console-takeover.png");

  await console_.getByRole("button", { name: "Hand back to the assistant" }).click();
  await widget.locator("#log li.agent", { hasText: "The assistant is continuing" }).waitFor({ timeout: 10_000 });
  await console_.getByLabel("Resolution note").fill("Called the patient; on the way to the ED with his wife.");
  await console_.getByRole("button", { name: "Resolve" }).click();
  await console_.getByText("Case resolved.").first().waitFor();
  await row.waitFor({ state: "detached" });

  assertClean(staffSeen, "console");
  assertClean(patientSeen, "widget");
});

test("an admin publishes a script change, then rolls it back", { timeout: 120_000 }, async () => {
  const page = await (await browser.newContext()).newPage();
  const seen = watch(page, agent.baseUrl);
  await signIn(page, agent.baseUrl, "/admin", admin);
  await page.getByRole("button", { name: /^refill — v1/ }).click();
  await page.getByRole("heading", { name: "Script: refill" }).waitFor();
  const source = page.getByLabel("Script source (TOML)");
  const original = await source.inputValue();
  assert.match(original, /^version = 1$/m);

  // An edit that forgets the version: the problem is reported at line:column, and clicking it
  // puts the caret there.
  const edited = original.replace(/^allowed_actions = /m, "# Reviewed by pharmacy.\nallowed_actions = ");
  await source.fill(edited);
  await page.getByRole("button", { name: "Save draft and validate" }).click();
  const problem = page.locator("#problems button").first();
  await problem.waitFor();
  assert.match(await problem.textContent(), /^Line 1, column 1: version must be 2/);
  // A syntax error is reported where it is.
  await source.fill(edited.replace(/^version = 1$/m, "version = 2\nbroken = [").trimEnd());
  await page.getByRole("button", { name: "Save draft and validate" }).click();
  await page.locator("#problems button", { hasText: /^Line \d+, column \d+: / }).first().waitFor();

  await source.fill(edited.replace(/^version = 1$/m, "version = 2"));
  await page.getByRole("button", { name: "Save draft and validate" }).click();
  await page.getByText("Valid. Publishing creates version 2.").waitFor();
  await page.getByRole("button", { name: "Diff against published" }).click();
  await page.locator("#diff .add", { hasText: "+# Reviewed by pharmacy." }).waitFor();
  await page.locator("#diff .del", { hasText: "-version = 1" }).waitFor();
  await shot(page, "admin-diff.png");

  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.locator("#editor-status").getByText("Published version 2.", { exact: true }).waitFor();
  await page.locator("#versions tr", { hasText: "v2 (current)" }).waitFor();
  assert.match(await page.locator("#versions tr").first().textContent(), /v2 \(current\)you/);
  await page.getByRole("button", { name: /^refill — v2/ }).waitFor();

  await page.getByRole("button", { name: "Roll back to v1" }).click();
  await page.getByText("Published version 3 with the source of version 1.").waitFor();
  await page.locator("#versions tr", { hasText: "v3 (current)" }).waitFor();
  assert.doesNotMatch(await source.inputValue(), /Reviewed by pharmacy/);

  // The audit log: the publication and the rollback are recorded (ids, no patient content),
  // and the whole log verifies.
  await page.getByRole("button", { name: "Show the audit log" }).click();
  await page.locator("#audit-verify").getByText(/^Audit log verified: \d+ records, \d+ signed checkpoints? reproduced/).waitFor();
  await page.locator("#audit-rows tr", { hasText: "admin.script_rollback/refill" }).waitFor();
  await page.locator("#audit-rows tr", { hasText: "admin.script_publish/refill" }).first().waitFor();
  const audit = await page.locator("#audit").textContent();
  assert.doesNotMatch(audit, /chest pain|Wei Chen|emergency room/, "no patient content in the audit viewer");
  const [, first, last, tip] = /^Records (\d+) to (\d+) of (\d+)/.exec(await page.locator("#audit-page").textContent());
  assert.equal(last, tip, "the newest page first");
  await shot(page, "admin-audit.png");
  if (Number(first) > 1) {
    await page.getByRole("button", { name: "Older records" }).click();
    await page.locator("#audit-page").getByText(/^Records 1 to /).or(page.locator("#audit-page").getByText(new RegExp(`to ${Number(first) - 1} of`))).waitFor();
    await page.getByRole("button", { name: "Newer records" }).click();
    await page.locator("#audit-page").getByText(`to ${tip} of ${tip}`).waitFor();
  }
  assertClean(seen, "admin");
});

test("an admin reads the outcome figures; a coordinator is refused them", { timeout: 60_000 }, async () => {
  const page = await (await browser.newContext()).newPage();
  const seen = watch(page, agent.baseUrl);
  await signIn(page, agent.baseUrl, "/outcomes", addStaff(agent, "olu.admin", "admin"));
  await page.locator("#containment").getByText(/^Containment: \d+\.\d%/).waitFor();
  await page.locator("#conversations tr", { hasText: "Escalated to a person" }).waitFor();
  await page.locator("#reasons tr").nth(1).waitFor();
  const figures = await page.locator("#app").textContent();
  assert.doesNotMatch(figures, /chest pain|Wei Chen|emergency room/, "no patient content in the figures");
  assert.deepEqual(await axeViolations(page), [], "outcomes page");
  await shot(page, "outcomes.png");
  assertClean(seen, "outcomes");

  const other = await (await browser.newContext()).newPage();
  await signIn(other, agent.baseUrl, "/outcomes", addStaff(agent, "max.coordinator", "coordinator"));
  await other.locator("#status").getByText(/./).waitFor();
  assert.doesNotMatch(await other.locator("#status").textContent(), /^Updated/);
  assert.equal(await other.locator("#conversations tr").count(), 0, "no figures for a coordinator");
});

test("the three pages have no serious or critical axe-core violation", { timeout: 120_000 }, async () => {
  const results = {};
  // Sign-in forms first (the console and admin pages look alike there).
  const signInPage = await (await browser.newContext()).newPage();
  await signInPage.goto(agent.baseUrl + "/console");
  await signInPage.getByLabel("Username").waitFor();
  results["console sign-in"] = await axeViolations(signInPage);
  await signInPage.goto(agent.baseUrl + "/");
  await signInPage.getByRole("button", { name: "John Smith" }).waitFor();
  results["widget sign-in"] = await axeViolations(signInPage);

  const { page: widget } = await patientSignsIn("Aisha Khan");
  await patientSays(widget, "I need an appointment with cardiology next week");
  await widget.locator("#options button").first().waitFor({ timeout: 60_000 });
  results.widget = await axeViolations(widget);
  await shot(widget, "widget.png");

  const reviewer = addStaff(agent, "kim.coordinator", "coordinator");
  const console_ = await (await browser.newContext()).newPage();
  await signIn(console_, agent.baseUrl, "/console", reviewer);
  await patientSays(widget, "I want to talk to a person");
  await console_.locator("#queue-rows tr").first().waitFor({ timeout: 10_000 });
  await console_.locator("#queue-rows tr").first().getByRole("button", { name: /^Open/ }).click();
  await console_.locator("#transcript li").first().waitFor();
  assert.match(await console_.locator("#slots").textContent(), /provider.*name: cardiology/, "the slots read as text");
  results.console = await axeViolations(console_);
  await shot(console_, "console.png");

  const editor = addStaff(agent, "lee.admin", "admin");
  const adminPage = await (await browser.newContext()).newPage();
  await signIn(adminPage, agent.baseUrl, "/admin", editor);
  await adminPage.getByRole("button", { name: /^appointment/ }).click();
  await adminPage.getByRole("heading", { name: "Script: appointment" }).waitFor();
  await adminPage.getByRole("button", { name: "Save draft and validate" }).click();
  await adminPage.locator("#validation-summary").getByText(/problem|Valid/).waitFor();
  await adminPage.getByRole("button", { name: "Show the audit log" }).click();
  await adminPage.locator("#audit-verify").getByText(/^Audit log verified/).waitFor();
  await adminPage.locator("#audit-rows tr").first().waitFor();
  results.admin = await axeViolations(adminPage);
  await shot(adminPage, "admin.png");

  console.log("axe serious/critical violations per page:", JSON.stringify(results));
  for (const [name, found] of Object.entries(results)) assert.deepEqual(found, [], `${name}: ${found.join("\n")}`);
});
