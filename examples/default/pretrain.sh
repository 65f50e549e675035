#!/usr/bin/env bash
# Rebuilds the embedded default model in examples/default/model from the project's own data:
# trains the byte-level BPE tokenizer on examples/default/data/{pretrain,train}.jsonl, then pretrains a small Llama
# (2M parameters) from random weights on pretrain.jsonl + pretrain-extra.jsonl with peft4j's own training engine
# (full fine-tuning).
#   examples/default/pretrain.sh [epochs]      # default 30 epochs: about 7 minutes on 2 CPU cores
# See org.peft4j.examples.pretrain.PretrainDefaultModel.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/peft4j" --version >/dev/null   # builds the examples module and its class path when needed
exec java ${JAVA_OPTS:-} -cp "$ROOT/examples/target/classes:$(cat "$ROOT/examples/target/classpath.txt")" \
    org.peft4j.examples.pretrain.PretrainDefaultModel "$ROOT" "${1:-30}"
