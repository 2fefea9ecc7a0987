// Starts the real agent binary (demo mode, port 0, throwaway data folder) and Debian's
// chromium for the browser tests.
import { spawn, execFileSync } from "node:child_process";
import { createServer, connect } from "node:net";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const artifacts = join(root, "tests", "artifacts");

function agentEnv(data) {
  return {
    ...process.env,
    AGENT__DATABASE__URL: `sqlite://${data}/agent.db`,
    AGENT__CRYPTO__KEY_FILE: join(data, "master.key"),
    AGENT__MODEL__MODELS_DIR: join(root, "models"),
    AGENT__MODEL__THREADS: "1",
    AGENT__DEMO_EHR__VENV: join(root, ".venv-fhir"),
    AGENT__DEMO_EHR__DATA_DIR: join(data, "ehr"),
    AGENT__DEMO_EHR__PORT: "0",
    AGENT__SERVER__PORT: "0",
  };
}

export async function startAgent() {
  const bin = process.env.AGENT_BIN || join(root, "target", "debug", "agent");
  const data = mkdtempSync(join(tmpdir(), "agent-browser-"));
  const env = agentEnv(data);
  execFileSync(bin, ["keys", "init"], { env, cwd: data, stdio: "ignore" });
  const child = spawn(bin, ["serve"], { env, cwd: data, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stderr.on("data", (d) => { logs += d; });
  const baseUrl = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("agent did not start:\n" + logs)), 240_000);
    child.stdout.on("data", (d) => {
      const m = /agent listening on (\S+)/.exec(String(d));
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on("exit", (code) => fail(new Error(`agent exited ${code}:\n${logs}`)));
  });
  for (let i = 0; i < 240; i++) {
    try { if ((await fetch(baseUrl + "/ready")).ok) break; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { baseUrl, bin, env, data, logs: () => logs, stop: () => child.kill("SIGTERM") };
}

/**
 * A TCP relay in front of the agent, so a test can cut a browser's connections the way a
 * network does: `cut()` drops every open connection and refuses new ones until `restore()`.
 */
export async function startRelay(targetUrl) {
  const target = new URL(targetUrl);
  const sockets = new Set();
  let down = false;
  const server = createServer((client) => {
    if (down) { client.destroy(); return; }
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    cut() { down = true; for (const s of sockets) s.destroy(); },
    restore() { down = false; },
    close() { for (const s of sockets) s.destroy(); server.close(); },
  };
}

export async function startBrowser() {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
