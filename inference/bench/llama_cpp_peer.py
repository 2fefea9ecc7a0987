"""The benchmark's peer: llama.cpp (through llama-cpp-python, built from source in a venv used
only by `agent bench model`) answering timing requests on the same GGUF, with the same thread
count and the same token ids as our engine, so every figure is a ratio measured in one run.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.
  {"op": "prefill", "tokens": [...]}                       -> {"seconds": s}
  {"op": "decode", "tokens": [...], "n": 128}              -> {"seconds": s, "generated": n}
  {"op": "ttft", "prefix": [...], "rest": [...], "warm": b} -> {"seconds": s}
  {"op": "info"}                                           -> {"version": ..., "flash_attn": false}
"""
import json
import sys
import time

import llama_cpp
import numpy as np


def no_extra_bufts():
    """Some VMs report AMX but fault on it: turn off only the extra (AMX/repack) buffer types.
    The high-level class has no argument for it, so the model-parameter defaults are wrapped."""
    low = llama_cpp.llama_cpp
    default = low.llama_model_default_params

    def params():
        p = default()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params


def open_model(path, threads, n_ctx):
    no_extra_bufts()
    return llama_cpp.Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=n_ctx,
                           n_batch=512, n_ubatch=512, verbose=False)


def feed(llm, tokens):
    llm.eval(tokens)
    return int(np.argmax(llm.scores[llm.n_tokens - 1]))


def handle(llm, req):
    op = req["op"]
    if op == "info":
        return {"version": llama_cpp.__version__, "flash_attn": False}
    if op == "prefill":
        llm.reset()
        t = time.perf_counter()
        feed(llm, req["tokens"])
        return {"seconds": time.perf_counter() - t}
    if op == "decode":
        llm.reset()
        tok = feed(llm, req["tokens"])
        t = time.perf_counter()
        for _ in range(req["n"]):
            tok = feed(llm, [tok])
        return {"seconds": time.perf_counter() - t, "generated": req["n"]}
    if op == "ttft":
        prefix, rest = req["prefix"], req["rest"]
        if req["warm"]:
            llm.reset()
            feed(llm, prefix)
            llm.n_tokens = len(prefix)  # keep the prefix's KV; eval drops what follows
            t = time.perf_counter()
            feed(llm, rest)
        else:
            llm.reset()
            t = time.perf_counter()
            feed(llm, prefix + rest)
        return {"seconds": time.perf_counter() - t}
    raise ValueError(f"unknown op {op!r}")


def main():
    path, threads, n_ctx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    llm = open_model(path, threads, n_ctx)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(llm, json.loads(line))
        except Exception as e:  # report, keep serving
            answer = {"error": str(e)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
