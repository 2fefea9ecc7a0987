#!/usr/bin/env python3
"""schemathesis against the running service's own /api/openapi.json, with real credentials.

Starts the `agent` binary ($AGENT_BIN) in demo mode on a throwaway data folder (the real model
and demo EHR), signs a demo patient in (bearer token), adds an admin and a coordinator with
`agent users add` and signs them in with password and TOTP (bearer tokens), then runs
schemathesis once per identity over the operations that identity uses. Checks: no 5xx, and
every response's status, content type and body conform to the schema.

Usage: tests/api/schemathesis_run.py [--max-examples N] [--seed S]
(scripts/schemathesis.sh sets up the pinned venv and calls this.)
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Live streams never end (they would hold a worker until the timeout); sign-out ends the
# session the run uses; both are covered by their own tests.
EXCLUDE = r"(/events$|/sign-out$|/logout$)"
IDENTITIES = {
    # name: (operations, role)
    "patient": (r"^/api/(me|conversations)", None),
    "admin": (r"^/api/(admin|staff/me)", "admin"),
    "coordinator": (r"^/api/staff/(escalations|conversations|me)", "coordinator"),
}


def agent_env(data):
    env = dict(os.environ)
    env.pop("AGENT_CONFIG", None)
    env.update({
        "AGENT__DATABASE__URL": f"sqlite://{data}/agent.db",
        "AGENT__CRYPTO__KEY_FILE": f"{data}/master.key",
        "AGENT__MODEL__MODELS_DIR": os.path.join(ROOT, "models"),
        "AGENT__DEMO_EHR__VENV": os.path.join(ROOT, ".venv-fhir"),
        "AGENT__DEMO_EHR__DATA_DIR": f"{data}/ehr",
        "AGENT__DEMO_EHR__PORT": "0",
        "AGENT__SERVER__PORT": "0",
        "AGENT__MODEL__THREADS": "1",
        # schemathesis sends thousands of requests from one address and session.
        "AGENT__LIMITS__SESSION_PER_MINUTE": "1000000",
        "AGENT__LIMITS__SESSION_BURST": "1000000",
        "AGENT__LIMITS__ADDRESS_PER_MINUTE": "1000000",
        "AGENT__LIMITS__ADDRESS_BURST": "1000000",
        "RUST_LOG": "warn",
    })
    return env


def agent_bin():
    if os.environ.get("AGENT_BIN"):
        return os.environ["AGENT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "agent")


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def start(data, env):
    proc = subprocess.Popen([agent_bin(), "serve"], cwd=data, env=env, stdout=subprocess.PIPE,
                            stderr=open(os.path.join(data, "agent.log"), "w"), text=True)
    found = {}

    def read():
        for line in proc.stdout:
            if line.startswith("agent listening on "):
                found["url"] = line.split()[-1].strip()
    threading.Thread(target=read, daemon=True).start()
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("agent exited: " + open(os.path.join(data, "agent.log")).read()[-3000:])
        if "url" in found:
            try:
                urllib.request.urlopen(found["url"] + "/ready", timeout=5)
                return proc, found["url"]
            except Exception:
                pass
        time.sleep(0.25)
    proc.kill()
    sys.exit("agent not ready in 240 s")


def staff_token(base, data, env, role):
    name, password = f"st-{role}", secrets.token_urlsafe(12)
    out = subprocess.run([agent_bin(), "users", "add", name, "--role", role], cwd=data, env=env,
                         input=password + "\n", capture_output=True, text=True, check=True).stdout
    secret = out.split("totp secret: ")[1].split()[0]
    token = http("POST", f"{base}/api/staff/login", {"username": name, "password": password})["token"]
    # The second factor issues the session's real token (the first one is only half signed in).
    return http("POST", f"{base}/api/staff/login/totp", {"code": totp(secret)}, token)["token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-examples", type=int, default=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SCHEMATHESIS_SEED", "1")))
    ap.add_argument("--report-dir", default=os.path.join(ROOT, "tests", "artifacts", "schemathesis"))
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="schemathesis-")
    env = agent_env(data)
    subprocess.run([agent_bin(), "keys", "init"], cwd=data, env=env, check=True, capture_output=True)
    proc, base = start(data, env)
    failed = []
    try:
        patients = http("GET", f"{base}/api/demo/patients")
        tokens = {"patient": http("POST", f"{base}/api/demo/sign-in", {"patient": patients[1]["id"]})["token"]}
        for name, (_, role) in IDENTITIES.items():
            if role:
                tokens[name] = staff_token(base, data, env, role)
        schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        for name, (paths, _) in IDENTITIES.items():
            cmd = [schemathesis, "run", f"{base}/api/openapi.json", "--url", base,
                   "-H", f"Authorization: Bearer {tokens[name]}", "--checks", CHECKS,
                   "--include-path-regex", paths, "--exclude-path-regex", EXCLUDE,
                   "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                   "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "60",
                   "--report", "junit", "--report-dir", os.path.join(args.report_dir, name),
                   "--continue-on-failure", "--no-color"]
            print(f"== schemathesis as {name}: {paths}", flush=True)
            if subprocess.run(cmd, env={**os.environ, "NO_COLOR": "1"}).returncode != 0:
                failed.append(name)
    finally:
        proc.kill()
        proc.wait()
    if failed:
        print(f"schemathesis failed for: {', '.join(failed)} (agent log: {data}/agent.log)")
        sys.exit(1)
    shutil.rmtree(data, ignore_errors=True)
    print("schemathesis: no 5xx, every response matched the schema")


if __name__ == "__main__":
    main()
