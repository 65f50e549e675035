#!/usr/bin/env bash
# QLoRA against LoRA on TinyLlama-1.1B's shape with random weights (org.peft4j.bench.QloraBench), each
# configuration in its own JVM so that its peak resident size is its own:
#   benchmarks/run-qlora.sh [--layers 22] [--tokens 256] [--batch 1] [--steps 3]
# Needs about 10 GB of memory for the float32 LoRA run. See docs/BENCHMARKS.md. Never run by `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q ${MVN_OFFLINE:--o} -pl peft-core,peft-lora,peft-qlora,benchmarks package -DskipTests
cp="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
for mode in lora qlora; do
    for gc in false true; do
        java -Xms1g -Xmx6g -XX:MaxDirectMemorySize=16g -cp "$cp" org.peft4j.bench.QloraBench --mode "$mode" \
            --gc "$gc" "$@"
    done
done
