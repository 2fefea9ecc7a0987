// Starts the real agent binary (demo mode, port 0, throwaway data folder) and Debian's
// chromium for the browser tests.
import { spawn, execFileSync } from "node:child_process";
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

export async function startBrowser() {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
