"""The benchmark's peer: llama.cpp (through llama-cpp-python, built from source in a venv used
only by `agent bench model`) answering timing requests on the same GGUF, with the same thread
count and the same token ids as our engine, so every figure is a ratio measured in one run.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout; a failure is
answered {"error": "..."} and the peer keeps serving.
  {"op": "prefill", "tokens": [...]}                       -> {"seconds": s}
  {"op": "decode", "tokens": [...], "n": 128}              -> {"seconds": s, "generated": n}
  {"op": "ttft", "prefix": [...], "rest": [...], "warm": b} -> {"seconds": s}
  {"op": "batched_decode", "prompts": [[...], ...], "n": 32}
      -> {"seconds": s, "generated": B*n, "first": [...]}
     B = len(prompts) sequences in a second context on the same model (n_seq_max = B, one KV
     stream per sequence, llama.cpp's default); the prompts are fed untimed, then n steps each
     decode one token of every sequence in a single llama_decode; greedy. "first" is sequence
     0's generated tokens, so the caller can check both engines followed the same path.
  {"op": "embed_open", "bert_dir": dir, "gguf": path}
      -> {"converted": b, "sha256": hex, "pooling": "mean"}
     converts our BERT folder (safetensors) to an F32 GGUF once (bert_to_gguf.py, cached with
     its sha256 beside it) and opens it for embeddings, mean pooling, same thread count.
  {"op": "embed", "texts": [...], "vectors": b}            -> {"seconds": s, "vectors": [[...]]}
     one Llama.embed call (llama.cpp's tokenizer, all texts in one batch, L2-normalised);
     "vectors" only when asked.
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


class Batched:
    """Contexts for batched decoding on the chat model, one per batch size, made on first use."""

    def __init__(self, llm, threads):
        self.llm, self.threads, self.contexts = llm, threads, {}

    def context(self, b):
        if b not in self.contexts:
            p = llama_cpp.llama_context_default_params()
            p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max = 256 * b, 256 * b, 512, b
            p.n_threads = p.n_threads_batch = self.threads
            p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the main context
            ctx = llama_cpp.llama_init_from_model(self.llm.model, p)
            if not ctx:
                raise RuntimeError(f"llama.cpp could not make a context for {b} sequences")
            self.contexts[b] = (ctx, llama_cpp.llama_batch_init(256 * b, 0, 1))
        return self.contexts[b]

    def decode(self, ctx, batch, items):
        """items: (token, pos, seq, wants_logits) per batch slot."""
        batch.n_tokens = len(items)
        for i, (tok, pos, seq, out) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = tok, pos, 1, out
            batch.seq_id[i][0] = seq
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def argmax(self, ctx, i):
        row = llama_cpp.llama_get_logits_ith(ctx, i)
        return int(np.argmax(np.ctypeslib.as_array(row, shape=(self.llm.n_vocab(),))))

    def run(self, prompts, n):
        b = len(prompts)
        ctx, batch = self.context(b)
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        items, last = [], []
        for s, p in enumerate(prompts):
            items += [(t, i, s, i == len(p) - 1) for i, t in enumerate(p)]
            last.append(len(items) - 1)
        self.decode(ctx, batch, items)
        next_tok = [self.argmax(ctx, i) for i in last]
        first = []
        t = time.perf_counter()
        for step in range(n):
            self.decode(ctx, batch, [(next_tok[s], len(p) + step, s, True) for s, p in enumerate(prompts)])
            next_tok = [self.argmax(ctx, s) for s in range(b)]
            first.append(next_tok[0])
        return {"seconds": time.perf_counter() - t, "generated": b * n, "first": first}


class Peer:
    """What the requests act on: the chat model, its batched contexts, the embedding model."""

    def __init__(self, llm, threads):
        self.llm, self.threads, self.batched, self.embedder = llm, threads, Batched(llm, threads), None

    def embed_open(self, bert_dir, path):
        try:  # imported here: a venv made before the converter existed still serves the rest
            import bert_to_gguf
        except ImportError as e:
            raise RuntimeError(f"{e}; rerun models/bench-peer to install the gguf package") from e
        converted, digest = bert_to_gguf.ensure(bert_dir, path)
        self.embedder = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                                        n_ctx=512, n_batch=512, n_ubatch=512, n_threads=self.threads,
                                        n_threads_batch=self.threads, verbose=False)
        return {"converted": converted, "sha256": digest, "pooling": "mean"}

    def embed(self, texts, vectors):
        if self.embedder is None:
            raise RuntimeError("embed before embed_open")
        t = time.perf_counter()
        out = self.embedder.embed(texts, normalize=True)
        answer = {"seconds": time.perf_counter() - t}
        if vectors:
            answer["vectors"] = [list(map(float, v)) for v in out]
        return answer


def handle(peer, req):
    llm, op = peer.llm, req["op"]
    if op == "batched_decode":
        return peer.batched.run(req["prompts"], req["n"])
    if op == "embed_open":
        return peer.embed_open(req["bert_dir"], req["gguf"])
    if op == "embed":
        return peer.embed(req["texts"], req.get("vectors", False))
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
    peer = Peer(open_model(path, threads, n_ctx), threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(peer, json.loads(line))
        except Exception as e:  # report, keep serving
            answer = {"error": str(e)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
