#!/usr/bin/env bash
# Builds the benchmark module (offline if the local Maven repository has everything) and runs
# org.peft4j.bench.LoraForwardBenchmark from the repository root. Arguments are JMH options, e.g.
#   benchmarks/run.sh                       # everything, defaults (4 decoder layers, r=16, 128 tokens)
#   benchmarks/run.sh 'mergeAndUnload|copy' # only the merge part
#   benchmarks/run.sh -p layers=2 -i 5      # other parameters / fewer measured iterations
# See docs/BENCHMARKS.md. Never run by `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q ${MVN_OFFLINE:--o} -pl peft-core,peft-lora,benchmarks package -DskipTests
exec java -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" org.peft4j.bench.LoraForwardBenchmark "$@"
