#!/usr/bin/env bash
# One GPU, at most about 10 minutes (each stage has its own limit): PaDT-3B-shaped and
# Qwen2.5-VL-3B-shaped random bf16 checkpoints at batch 32 -> samples/s, ms per decode step
# against the bandwidth floor, peak memory, eager vs --compile (PaDT), vLLM when installed
# ("not installed" otherwise); the
# ours-vs-reference generate pairs; then the memory plan (`padt-eval plan`) against
# torch.cuda.max_memory_allocated, and `-b auto`'s batch run for real; then PaDT continuous
# batching against static batches at the 3B shape (32 slots, OVD-like answer lengths).
#
# pycocotools, pycocoevalcap and qwen-vl-utils are installed from wheels in .whl/ when that
# folder exists (they travel with the working tree; the GPU machine has no index to reach).
#
#   benchmarks/gpu.sh              # on a machine with one CUDA GPU
#   benchmarks/gpu.sh --dry-run    # the same stages on the CPU at tiny sizes (checks the script)
#
# Every stage has its own time limit, so one slow stage cannot take the whole budget; a
# stage that fails or times out is reported and the next one runs. Output: a JSON line per
# measurement on stdout (and in $OUT/gpu_results.jsonl when OUT is set), stage notes on stderr.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT_FILE=${OUT:+$OUT/gpu_results.jsonl}

if [[ "${1:-}" == "--dry-run" ]]; then
  COMMON=(--shape tiny --device cpu --batch-size 2 --steps 4 --warmup 1 --copy-mib 64)
  PADT=(--compile-backend aot_eager)
  GEN=(--config tiny --device cpu --batch-size 2 --max-new-tokens 8 --pairs 5)
  LIMITS=(300 120 60 300 600 300)
  CONT=(--config tiny --device cpu --slots 2 --samples 6 --max-new-tokens 16 --pairs 5)
  PLAN=(--config tests/fixtures/configs/padt_rec_3b.json --layers 1 --image-size 224x224 --device cpu --dtype bfloat16 --batch-size 1 --max-new-tokens 8 --auto)
else
  if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu.sh: no CUDA GPU visible (use --dry-run on a CPU)" >&2
    exit 2
  fi
  COMMON=(--shape 3b --device cuda --batch-size 32 --steps 32 --warmup 3)
  PADT=(--compile-backend inductor)
  GEN=(--config real-3b --device cuda --dtype bfloat16 --batch-size 32 --max-new-tokens 32 --pairs 5)
  # seconds: PaDT eager+compile, Qwen generate, vLLM (not carried: reports "not installed"),
  # generate pairs, memory plan vs measured, continuous vs static: 620 s in all
  LIMITS=(180 60 20 90 120 150)
  CONT=(--config real-3b --device cuda --dtype bfloat16 --slots 32 --samples 64 --max-new-tokens 192 --lengths ovd --pairs 5)
  PLAN=(--config tests/fixtures/configs/padt_rec_3b.json --device cuda --dtype bfloat16 --batch-size 8 --max-new-tokens 32 --auto)
  if compgen -G ".whl/*.whl" > /dev/null; then
    echo "== installing wheels from .whl/" >&2
    "$PY" -m pip install --quiet --no-index --find-links .whl pycocotools pycocoevalcap qwen-vl-utils >&2 \
      || echo "gpu.sh: some wheels in .whl/ did not install" >&2
  fi
  "$PY" -c "import importlib.util as u; print('vllm:', 'installed' if u.find_spec('vllm') else 'not installed')" >&2
fi

status=0
stage() {  # stage NAME LIMIT CMD...
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s)" >&2
  local start=$SECONDS
  timeout --signal=INT "$limit" "$@" | while IFS= read -r line; do
    [[ "$line" == \{* ]] || continue
    echo "$line"
    [[ -n "$OUT_FILE" ]] && echo "$line" >> "$OUT_FILE"
  done
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start))s" >&2
  [[ $rc -eq 0 ]] || status=1
}

stage "PaDT decode step (eager, compiled)" "${LIMITS[0]}" "$PY" benchmarks/bench_decode_step.py --model padt "${COMMON[@]}" "${PADT[@]}"
stage "Qwen2.5-VL transformers generate" "${LIMITS[1]}" "$PY" benchmarks/bench_decode_step.py --model qwen "${COMMON[@]}"
stage "Qwen2.5-VL on vLLM (when installed)" "${LIMITS[2]}" "$PY" benchmarks/bench_decode_step.py --model vllm "${COMMON[@]}"
stage "PaDT ours vs reference strategy" "${LIMITS[3]}" "$PY" benchmarks/bench_padt_generate.py "${GEN[@]}" --json
stage "memory plan vs measured, -b auto" "${LIMITS[4]}" "$PY" benchmarks/bench_plan_memory.py "${PLAN[@]}"
stage "PaDT continuous vs static batches" "${LIMITS[5]}" "$PY" benchmarks/bench_continuous.py "${CONT[@]}" --json
exit $status
