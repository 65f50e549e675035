#!/usr/bin/env bash
# Builds the benchmark module (offline if the local Maven repository has everything) and runs one of the paired
# benchmark programs from the repository root:
#   benchmarks/run-paired.sh MergeVsCopy [--layers 2] [--rank 16] [--rounds 9] [--weights owned|read-only]
#   benchmarks/run-paired.sh ForwardOverhead [--layers 2] [--rank 16] [--tokens 128] [--rounds 9]
#   benchmarks/run-paired.sh TrainStepBench [--config qwen2.5-0.5b] [--layers 2] [--tokens 128] [--batch 4] [--steps 10]
# See docs/BENCHMARKS.md. Never run by `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
program="${1:?usage: benchmarks/run-paired.sh MergeVsCopy|ForwardOverhead|ShapeOnly|TrainStepBench [options]}"
shift
mvn -B -q ${MVN_OFFLINE:--o} -pl peft-core,peft-lora,peft-qlora,benchmarks package -DskipTests
exec java -Xms1g -Xmx2g -XX:MaxDirectMemorySize=16g \
    -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" "org.peft4j.bench.$program" "$@"
