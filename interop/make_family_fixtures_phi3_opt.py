#!/usr/bin/env python3
"""Phi-3 and OPT family fixtures (issue 14).

Writes (nothing else):

  fixtures/models/opt/           tiny random OPTForCausalLM (do_layer_norm_before=True, tied lm_head, biases)
  fixtures/models/opt-proj/      tiny OPT like opt-350m: word_embed_proj_dim (16) != hidden_size (32), so
                                 project_in / project_out, do_layer_norm_before=False (no decoder final_layer_norm)
  fixtures/models/phi3/          tiny random Phi3ForCausalLM: GQA (4 heads, 2 kv heads), partial_rotary_factor 0.5,
                                 rope_scaling longrope with short/long factors and original_max_position_embeddings 8
                                 (max_position_embeddings 64, so attention factor sqrt(1 + ln 8 / ln 8)),
                                 sliding_window 6, untied lm_head
  fixtures/phi3-opt/reference/<name>.safetensors
                                 input_ids [2, 11] -> logits; short_input_ids [2, 6] -> short_logits (phi3: 6 <= 8 so
                                 the short factors; 11 > 8 the long ones); padded_input_ids / padded_attention_mask
                                 [2, 11] (row 1 left-padded by 3) -> padded_logits; gen_prompt [1, 5] -> gen_output
                                 [1, 15] (greedy, eos absent; phi3 crosses original_max_position_embeddings);
                                 genb_prompt / genb_mask [2, 5] (row 1 left-padded by 2) -> genb_output;
                                 train_input_ids / train_attention_mask / train_labels [2, 11] (row 1 left-padded by
                                 2) -> train_loss and train_grad.<name> of every attention projection and the input
                                 embeddings (model.train(), dropout 0)
  fixtures/phi3-opt/reference/<name>.json
                                 eos ids, observations (longrope: long vs short logits differ; generate with and
                                 without cache agree)
  fixtures/phi3-opt/lora/<case>/ PEFT-saved LoRA adapters on these models, in make_lora_fixtures.py's case format
  fixtures/phi3-opt/half/<name>.safetensors
                                 input_ids / attention_mask (the padded batch above) -> logits_f16 (float32 [2, 11, V]
                                 widened from the float16 model's logits, eager attention, CPU)
  fixtures/phi3-opt/prefix/<name>/
                                 PEFT prefix tuning (3 virtual tokens, prompt encoder randomised) on each tiny model:
                                 adapter/ (save_pretrained), expected.safetensors with input_ids / attention_mask
                                 [2, 7] (row 1 left-padded by 2) -> loaded_logits (PeftModel.from_pretrained) and
                                 base_logits; gen_input_ids / gen_attention_mask [2, 5] -> generated (PEFT's greedy
                                 generate, 6 new tokens, cache on; for phi3 the cache holds the 3 virtual tokens, so
                                 Phi3ForCausalLM.prepare_inputs_for_generation never drops it)
  fixtures/phi3-opt/prompt/{opt,phi3}/
                                 the same with PEFT prompt tuning (PromptTuningConfig, 3 virtual tokens; loaded_logits
                                 without the virtual positions)
  fixtures/phi3-opt/lora-train-step/<name>/
                                 one LoRA training step (opt: q_proj, v_proj; phi3: qkv_proj, gate_up_proj; r 8,
                                 alpha 16, no dropout, LoRA weights randomised): adapter/ (the weights before the
                                 step), expected.safetensors with input_ids / attention_mask / labels [2, 11] (row 1
                                 left-padded by 2; labels -100 at pads and at each row's first real token), loss and
                                 grad.<PEFT name> of every LoRA tensor (model.train(), loss.backward())
  fixtures/phi3-opt/configs/<name>.json and counts.json
                                 the published config.json values of microsoft/Phi-3-mini-4k-instruct,
                                 microsoft/Phi-3-mini-128k-instruct and facebook/opt-350m, and their parameter counts
                                 on torch.device("meta")

Run: /work/main/interop/.venv/bin/python interop/make_family_fixtures_phi3_opt.py
Deterministic (seeds, one thread, deterministic algorithms, PYTHONHASHSEED=0 like make_lora_fixtures.py).
"""
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":  # make_lora_fixtures' adapter_config.json list order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import (AutoConfig, AutoModelForCausalLM, OPTConfig, OPTForCausalLM, Phi3Config,  # noqa: E402
                          Phi3ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402
import make_lora_fixtures as mlf  # noqa: E402

MODELS = os.path.join(HERE, "fixtures", "models")
OUT = os.path.join(HERE, "fixtures", "phi3-opt")
SEQ = 11
SHORT = 6
PAD_ROW1 = 3
GEN_PROMPT = 5
GEN_NEW = 10
GENB_PAD_ROW1 = 2
TRAIN_PAD_ROW1 = 2

OPT_COMMON = dict(attn_implementation="eager", vocab_size=128, hidden_size=32, ffn_dim=64, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=64, dropout=0.0, attention_dropout=0.0,
                  pad_token_id=1, bos_token_id=2, eos_token_id=2)

SPECS = [
    ("opt", OPTConfig, OPTForCausalLM, dict(OPT_COMMON)),
    ("opt-proj", OPTConfig, OPTForCausalLM, dict(OPT_COMMON, word_embed_proj_dim=16, do_layer_norm_before=False)),
    ("phi3", Phi3Config, Phi3ForCausalLM,
     dict(attn_implementation="eager", vocab_size=128, hidden_size=64, intermediate_size=48, num_hidden_layers=2,
          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
          original_max_position_embeddings=8, partial_rotary_factor=0.5, rope_theta=10000.0,
          rope_scaling={"type": "longrope", "short_factor": [1.0, 1.25, 1.5, 2.0],
                        "long_factor": [1.5, 3.0, 6.0, 12.0]},
          sliding_window=6, rms_norm_eps=1e-5, pad_token_id=None, bos_token_id=1, eos_token_id=2,
          tie_word_embeddings=False)),
]

LORA_CASES = [
    ("opt-default", "opt", dict(task_type="CAUSAL_LM"),
     {"notes": "LoRA on OPT with PEFT's default target modules for model_type opt (q_proj, v_proj)"}),
    ("opt-proj-all", "opt-proj", dict(target_modules=["q_proj", "v_proj", "out_proj", "fc1", "fc2", "project_in",
                                                      "project_out"], task_type="CAUSAL_LM"),
     {"notes": "LoRA on an opt-350m-like OPT (project_in / project_out, layer norm after)"}),
    ("phi3-fused", "phi3", dict(target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
                                task_type="CAUSAL_LM"),
     {"notes": "LoRA on Phi-3's fused qkv_proj and gate_up_proj (PEFT 0.21.2 has no default for phi3)"}),
]

# published config.json values (the rope factors of the 128k model do not change the counts)
REAL = {
    "phi-3-mini-4k-instruct": ("microsoft/Phi-3-mini-4k-instruct", dict(
        model_type="phi3", architectures=["Phi3ForCausalLM"], attention_bias=False, attention_dropout=0.0,
        bos_token_id=1, embd_pdrop=0.0, eos_token_id=32000, hidden_act="silu", hidden_size=3072,
        initializer_range=0.02, intermediate_size=8192, max_position_embeddings=4096, num_attention_heads=32,
        num_hidden_layers=32, num_key_value_heads=32, original_max_position_embeddings=4096, pad_token_id=32000,
        resid_pdrop=0.0, rms_norm_eps=1e-05, rope_scaling=None, rope_theta=10000.0, sliding_window=2047,
        tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=True, vocab_size=32064)),
    "phi-3-mini-128k-instruct": ("microsoft/Phi-3-mini-128k-instruct", dict(
        model_type="phi3", architectures=["Phi3ForCausalLM"], attention_dropout=0.0, bos_token_id=1,
        embd_pdrop=0.0, eos_token_id=32000, hidden_act="silu", hidden_size=3072, initializer_range=0.02,
        intermediate_size=8192, max_position_embeddings=131072, num_attention_heads=32, num_hidden_layers=32,
        num_key_value_heads=32, original_max_position_embeddings=4096, pad_token_id=32000, resid_pdrop=0.0,
        rms_norm_eps=1e-05,
        rope_scaling={"long_factor": [
            1.0299999713897705, 1.0499999523162842, 1.0499999523162842, 1.0799999237060547, 1.2299998998641968,
            1.2299998998641968, 1.2999999523162842, 1.4499999284744263, 1.5999999046325684, 1.6499998569488525,
            1.8999998569488525, 2.859999895095825, 3.68999981880188, 5.419999599456787, 5.489999771118164,
            5.489999771118164, 9.09000015258789, 11.579999923706055, 15.65999984741211, 15.769999504089355,
            15.789999961853027, 18.360000610351562, 21.989999771118164, 23.079999923706055, 30.009998321533203,
            32.35000228881836, 32.590003967285156, 35.56000518798828, 39.95000457763672, 53.840003967285156,
            56.20000457763672, 57.95000457763672, 59.29000473022461, 59.77000427246094, 59.920005798339844,
            61.190006256103516, 61.96000671386719, 62.50000762939453, 63.3700065612793, 63.48000717163086,
            63.48000717163086, 63.66000747680664, 63.850006103515625, 64.08000946044922, 64.760009765625,
            64.80001068115234, 64.81001281738281, 64.81001281738281],
            "short_factor": [
            1.05, 1.05, 1.05, 1.1, 1.1, 1.1, 1.2500000000000002, 1.2500000000000002, 1.4000000000000004,
            1.4500000000000004, 1.5500000000000005, 1.8500000000000008, 1.9000000000000008, 2.000000000000001,
            2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001,
            2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001,
            2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001, 2.000000000000001,
            2.000000000000001, 2.000000000000001, 2.000000000000001, 2.1000000000000005, 2.1000000000000005, 2.2,
            2.3499999999999996, 2.3499999999999996, 2.3499999999999996, 2.3499999999999996, 2.3999999999999995,
            2.3999999999999995, 2.6499999999999986, 2.6999999999999984, 2.8999999999999977, 2.9499999999999975,
            3.049999999999997, 3.049999999999997, 3.049999999999997],
            "type": "longrope"},
        rope_theta=10000.0, sliding_window=262144, tie_word_embeddings=False, torch_dtype="bfloat16",
        use_cache=True, vocab_size=32064)),
    "opt-350m": ("facebook/opt-350m", dict(
        model_type="opt", architectures=["OPTForCausalLM"], activation_dropout=0.0, activation_function="relu",
        attention_dropout=0.0, bos_token_id=2, do_layer_norm_before=False, dropout=0.1, eos_token_id=2,
        ffn_dim=4096, hidden_size=1024, init_std=0.02, layerdrop=0.0, max_position_embeddings=2048,
        num_attention_heads=16, num_hidden_layers=24, pad_token_id=1, prefix="</s>", torch_dtype="float16",
        use_cache=True, vocab_size=50272, word_embed_proj_dim=512)),
}


def rand(g, shape, vocab):
    return torch.randint(3, vocab, shape, generator=g, dtype=torch.int64)


def left_pad(ids, n):
    ids = ids.clone()
    mask = torch.ones_like(ids)
    ids[1, :n] = mf.PAD_ID
    mask[1, :n] = 0
    return ids, mask


def greedy(model, prompt, eos, mask, use_cache=True):
    with torch.no_grad():
        return model.generate(prompt, attention_mask=mask, max_new_tokens=GEN_NEW, do_sample=False,
                              eos_token_id=eos, pad_token_id=mf.PAD_ID, num_beams=1, temperature=None, top_p=None,
                              top_k=None, use_cache=use_cache)


def absent_eos(model, prompt, mask):
    for cand in range(model.config.vocab_size - 1, 2, -1):
        out = greedy(model, prompt, cand, mask)
        gen = out[:, prompt.shape[1]:]
        if gen.shape[1] == GEN_NEW and not (gen == cand).any():
            return cand, out
    raise RuntimeError("no absent eos")


def reference(name, model, seed):
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    t, info = {}, {}
    ids = rand(g, (2, SEQ), vocab)
    with torch.no_grad():
        t["logits"] = model(input_ids=ids).logits.float().contiguous()
        t["short_logits"] = model(input_ids=ids[:, :SHORT]).logits.float().contiguous()
    t["input_ids"], t["short_input_ids"] = ids, ids[:, :SHORT].contiguous()
    info["long_vs_short_prefix_logits_max_abs"] = float((t["logits"][:, :SHORT] - t["short_logits"]).abs().max())
    pids, pmask = left_pad(rand(g, (2, SEQ), vocab), PAD_ROW1)
    with torch.no_grad():
        t["padded_logits"] = model(input_ids=pids, attention_mask=pmask).logits.float().contiguous()
    t["padded_input_ids"], t["padded_attention_mask"] = pids, pmask

    prompt = rand(g, (1, GEN_PROMPT), vocab)
    eos, out = absent_eos(model, prompt, torch.ones_like(prompt))
    t["gen_prompt"], t["gen_output"] = prompt, out
    info["gen_eos_token_id"] = eos
    info["gen_equals_no_cache_generation"] = bool(torch.equal(
        out, greedy(model, prompt, eos, torch.ones_like(prompt), use_cache=False)))
    info["gen_distinct_generated_tokens"] = len(set(out[0, GEN_PROMPT:].tolist()))

    bprompt, bmask = left_pad(rand(g, (2, GEN_PROMPT), vocab), GENB_PAD_ROW1)
    beos, bout = absent_eos(model, bprompt, bmask)
    t["genb_prompt"], t["genb_mask"], t["genb_output"] = bprompt, bmask, bout
    info["genb_eos_token_id"] = beos
    info["genb_equals_no_cache_generation"] = bool(torch.equal(
        bout, greedy(model, bprompt, beos, bmask, use_cache=False)))

    tids, tmask = left_pad(rand(g, (2, SEQ), vocab), TRAIN_PAD_ROW1)
    labels = tids.clone()
    labels[tmask == 0] = -100
    labels[1, TRAIN_PAD_ROW1] = -100  # predicted from a fully masked pad position (see make_sliding_window_fixtures)
    model.train()
    model.zero_grad()
    loss = model(input_ids=tids, attention_mask=tmask, labels=labels).loss
    loss.backward()
    model.eval()
    t["train_input_ids"], t["train_attention_mask"], t["train_labels"] = tids, tmask, labels
    t["train_loss"] = loss.detach().float().reshape(())
    grads = []
    emb = "model.decoder.embed_tokens.weight" if name.startswith("opt") else "model.embed_tokens.weight"
    for pname, p in model.named_parameters():
        if pname.endswith("_proj.weight") and ".self_attn." in pname or pname == emb:
            t["train_grad." + pname] = p.grad.detach().float().contiguous()
            grads.append(pname)
    model.zero_grad()
    info["train_grad_names"] = grads
    return {k: v.contiguous() for k, v in t.items()}, info


def prefix_case(name, seed, kind="prefix"):
    from peft import PeftModel, PrefixTuningConfig, PromptTuningConfig, get_peft_model
    out = os.path.join(OUT, kind, name)
    os.makedirs(out)
    torch.manual_seed(seed)
    base = mlf.load_base(name)
    g = torch.Generator().manual_seed(seed)
    vocab = base.config.vocab_size
    ids, mask = left_pad(rand(g, (2, 7), vocab), 2)
    gen, gmask = left_pad(rand(g, (2, 5), vocab), 1)
    with torch.no_grad():
        base_logits = base(input_ids=ids, attention_mask=mask).logits
    cfg_cls = PrefixTuningConfig if kind == "prefix" else PromptTuningConfig
    pm = get_peft_model(base, cfg_cls(task_type="CAUSAL_LM", num_virtual_tokens=3))
    with torch.no_grad():
        for p in pm.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    pm.save_pretrained(os.path.join(out, "adapter"))
    loaded = PeftModel.from_pretrained(mlf.load_base(name), os.path.join(out, "adapter")).eval()
    with torch.no_grad():
        logits = loaded(input_ids=ids, attention_mask=mask).logits
        generated = loaded.generate(input_ids=gen, attention_mask=gmask, max_new_tokens=6, do_sample=False,
                                    pad_token_id=mf.PAD_ID, eos_token_id=None)
    logits = logits[:, -ids.shape[1]:]  # prompt tuning's logits include the virtual positions
    assert (logits - base_logits).abs().max() > 1e-2, "the prefix has no effect"
    save_file({"input_ids": ids, "attention_mask": mask, "loaded_logits": logits.contiguous(),
               "base_logits": base_logits.contiguous(), "gen_input_ids": gen, "gen_attention_mask": gmask,
               "generated": generated}, os.path.join(out, "expected.safetensors"))


def lora_train_step(name, targets, seed):
    from peft import LoraConfig, get_peft_model
    out = os.path.join(OUT, "lora-train-step", name)
    os.makedirs(out)
    g = torch.Generator().manual_seed(seed)
    base = mlf.load_base(name)
    ids, mask = left_pad(rand(g, (2, SEQ), base.config.vocab_size), TRAIN_PAD_ROW1)
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[0, 0] = -100
    labels[1, TRAIN_PAD_ROW1] = -100
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=targets, lora_dropout=0.0,
                                            task_type="CAUSAL_LM"))
    mlf.randomise_(model, g)
    model.save_pretrained(os.path.join(out, "adapter"))
    model.train()
    res = model(input_ids=ids, attention_mask=mask, labels=labels)
    res.loss.backward()
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "loss": res.loss.detach().float().reshape(())}
    for n, p in model.named_parameters():
        if p.requires_grad:
            t["grad." + n] = p.grad.detach().float().contiguous()
    assert len(t) == 4 + 2 * 2 * len(targets)
    save_file(t, os.path.join(out, "expected.safetensors"))


def meta_counts(repo, cfg_dict):
    config = AutoConfig.for_model(**cfg_dict)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    params = list(model.named_parameters())
    total = sum(p.numel() for _, p in params)
    layer0 = [[n, list(p.shape)] for n, p in params if ".layers.0." in n]
    nonlayer = [[n, list(p.shape)] for n, p in params if ".layers." not in n]
    per_layer = sum(math.prod(s) for _, s in layer0)
    assert per_layer * config.num_hidden_layers + sum(math.prod(s) for _, s in nonlayer) == total
    return {"hub_repo": repo, "model_type": config.model_type, "num_parameters": int(total),
            "num_parameters_per_layer": int(per_layer), "num_hidden_layers": int(config.num_hidden_layers),
            "tie_word_embeddings": bool(config.tie_word_embeddings),
            "state_dict_num_keys": len(model.state_dict()), "layer0_parameters": layer0,
            "non_layer_parameters": nonlayer}


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.set_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for sub in ("reference", "lora", "configs", "half", "prefix", "prompt", "lora-train-step"):
        os.makedirs(os.path.join(OUT, sub))
    vers = mf.versions()
    for idx, (name, cfg_cls, model_cls, kw) in enumerate(SPECS):
        seed = 9100 + 100 * idx
        model = mf.build_model(cfg_cls, model_cls, kw, seed)
        folder = os.path.join(MODELS, name)
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        model.save_pretrained(folder, safe_serialization=True)
        tensors, info = reference(name, model, seed + 50)
        save_file(tensors, os.path.join(OUT, "reference", name + ".safetensors"), metadata={"model": name})
        meta = {"model": name, "model_class": type(model).__name__, "pad_token_id": mf.PAD_ID,
                "max_new_tokens": GEN_NEW, **info, "versions": vers}
        if name == "phi3":
            rope = model.model.rotary_emb
            meta["rope_parameters"] = model.config.rope_parameters
            meta["attention_scaling"] = float(rope.attention_scaling)
        mf.dump_json(os.path.join(OUT, "reference", name + ".json"), meta)
        print(f"[{name}] {info}", flush=True)
        assert info["gen_equals_no_cache_generation"] and info["genb_equals_no_cache_generation"]
        if name == "phi3":
            assert info["long_vs_short_prefix_logits_max_abs"] > 1e-2  # the long factors change the logits

    counts = {}
    for name, (repo, cfg) in REAL.items():
        mf.dump_json(os.path.join(OUT, "configs", name + ".json"), cfg)
        counts[name] = meta_counts(repo, cfg)
    counts["versions"] = vers
    mf.dump_json(os.path.join(OUT, "configs", "counts.json"), counts)

    mlf.MODELS = MODELS
    for case, model_name, kw, opts in LORA_CASES:
        mlf.build_case(os.path.join(OUT, "lora"), case, model_name, kw, opts)
    for idx, (name, _, _, _) in enumerate(SPECS):
        m16 = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, name), attn_implementation="eager",
                                                   dtype=torch.float16).eval()
        g = torch.Generator().manual_seed(9900 + idx)
        ids, mask = left_pad(rand(g, (2, SEQ), m16.config.vocab_size), PAD_ROW1)
        with torch.no_grad():
            f16 = m16(input_ids=ids, attention_mask=mask).logits
        assert f16.dtype == torch.float16
        save_file({"input_ids": ids, "attention_mask": mask, "logits_f16": f16.float().contiguous()},
                  os.path.join(OUT, "half", name + ".safetensors"))

    for idx, (name, _, _, _) in enumerate(SPECS):
        prefix_case(name, 9950 + idx)
    for idx, name in enumerate(["opt", "phi3"]):  # PEFT's token_dim is hidden_size, so not opt-proj
        prefix_case(name, 9960 + idx, kind="prompt")

    lora_train_step("opt", ["q_proj", "v_proj"], 9970)
    lora_train_step("phi3", ["qkv_proj", "gate_up_proj"], 9971)

    for d in [OUT] + [os.path.join(MODELS, s[0]) for s in SPECS]:
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
        print(f"wrote {size} bytes under {os.path.relpath(d, HERE)}")
        assert size < 1_000_000, size


if __name__ == "__main__":
    main()
