"""Converts our embedding model (a BERT folder: model.safetensors, config.json, tokenizer.json,
as fetched for all-MiniLM-L6-v2) into an F32 BERT GGUF, so the benchmark's llama.cpp peer can
embed with the very weights our engine uses. Written for the benchmark only; it needs the bench
venv's `gguf` (the ggml project's writer) and numpy, no torch.

The file is cached (models/cache/ is git-ignored) with its sha256 in `<file>.sha256` beside it;
`ensure` converts only when the file or its checksum is missing or does not match.

Standalone: python bert_to_gguf.py BERT_DIR OUT.gguf
"""
import hashlib
import json
import os
import sys

import gguf
import numpy as np

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}

# HF BERT tensor name (after dropping a leading "bert.") -> GGUF name; `{i}` is the layer.
EMBEDDING_NAMES = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER_NAMES = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
# Not needed for sentence embeddings: the pooler head and masked-LM / NSP heads.
SKIPPED_PREFIXES = ("pooler.", "cls.", "embeddings.position_ids")


def read_safetensors(path, wanted):
    """Yields (name, f32 array) for the tensors `wanted(name)` accepts, from a safetensors file:
    an 8-byte little-endian header length, a JSON header of {name: {dtype, shape,
    data_offsets}} (offsets from the end of the header), then the raw data."""
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        base = 8 + header_len
        for name, info in sorted(header.items()):
            if name == "__metadata__" or not wanted(name):
                continue
            dtype = SAFETENSORS_DTYPES.get(info["dtype"])
            if dtype is None:
                raise ValueError(f"{name}: unsupported dtype {info['dtype']}")
            start, end = info["data_offsets"]
            f.seek(base + start)
            data = np.frombuffer(f.read(end - start), dtype=np.dtype(dtype).newbyteorder("<"))
            yield name, data.reshape(info["shape"]).astype(np.float32)


def gguf_name(name):
    """The GGUF tensor name for a HF BERT tensor, or None for tensors embeddings do not use."""
    if name.startswith("bert."):
        name = name[len("bert."):]
    name = name.replace(".gamma", ".weight").replace(".beta", ".bias")
    if name.startswith(SKIPPED_PREFIXES):
        return None
    if name in EMBEDDING_NAMES:
        return EMBEDDING_NAMES[name]
    parts = name.split(".")
    if parts[:2] == ["encoder", "layer"]:
        layer, rest = parts[2], ".".join(parts[3:])
        stem, _, kind = rest.rpartition(".")
        if stem in LAYER_NAMES:
            return f"blk.{layer}.{LAYER_NAMES[stem]}.{kind}"
    raise ValueError(f"unexpected tensor {name}")


def wordpiece_vocab(tokenizer):
    """Tokens in id order, in llama.cpp's WPM spelling: a word start carries U+2581, a "##"
    continuation loses its marks, special tokens ([CLS], [SEP], ...) stay as they are."""
    model = tokenizer["model"]
    if model.get("type") != "WordPiece":
        raise ValueError(f"tokenizer.json is {model.get('type')}, not WordPiece")
    by_id = {i: t for t, i in model["vocab"].items()}
    special = {a["content"] for a in tokenizer.get("added_tokens", []) if a.get("special")}
    tokens, types = [], []
    for i in range(len(by_id)):
        tok = by_id[i]
        if tok in special:
            tokens.append(tok)
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(tok[2:] if tok.startswith("##") else "\u2581" + tok)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, model["vocab"]


def write_gguf(bert_dir, out_path):
    with open(os.path.join(bert_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(bert_dir, "tokenizer.json")) as f:
        tokenizer = json.load(f)
    tokens, types, vocab = wordpiece_vocab(tokenizer)
    w = gguf.GGUFWriter(out_path, "bert")
    w.add_name(os.path.basename(os.path.normpath(bert_dir)))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_head_count(config["num_attention_heads"])
    w.add_layer_norm_eps(config.get("layer_norm_eps", 1e-12))
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)  # sentence-transformers' pooling for MiniLM
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_type_count(config.get("type_vocab_size", 2))
    for token, add in (("[CLS]", w.add_bos_token_id), ("[SEP]", w.add_sep_token_id), ("[UNK]", w.add_unk_token_id),
                       ("[PAD]", w.add_pad_token_id), ("[MASK]", w.add_mask_token_id)):
        if token in vocab:
            add(vocab[token])
    w.add_add_bos_token(True)
    w.add_add_sep_token(True)
    weights = os.path.join(bert_dir, "model.safetensors")
    for name, array in read_safetensors(weights, lambda n: gguf_name(n) is not None):
        w.add_tensor(gguf_name(name), np.ascontiguousarray(array))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recorded_sha256(path):
    try:
        with open(path + ".sha256") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def ensure(bert_dir, out_path):
    """Returns (converted, sha256): converts when the cached file is missing or no longer
    matches the checksum recorded beside it."""
    recorded = recorded_sha256(out_path)
    if recorded and os.path.isfile(out_path) and sha256_of(out_path) == recorded:
        return False, recorded
    tmp = out_path + ".partial"
    write_gguf(bert_dir, tmp)
    digest = sha256_of(tmp)
    os.replace(tmp, out_path)
    with open(out_path + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(out_path)}\n")
    return True, digest


if __name__ == "__main__":
    converted, digest = ensure(sys.argv[1], sys.argv[2])
    print(f"{'converted' if converted else 'cached'} {sys.argv[2]} sha256 {digest}")
