#!/usr/bin/env bash
# What issue 14 (item 5) asks of a lent GPU, in one call of the device tool (a task that is lent
# one has 15 minutes of it in all): the model's scoring throughput (bench:torch, float32 and
# float16, the CPU beside it), the training loop by device and batch size (bench:devices), and
# the nightly design's whole run on CUDA on the 64,000-user world, timed from start to exit.
#
# The GPU machine has PyTorch but no Node, so the world is made here and carried:
#   npm run synth -- --out /tmp/w-shorth64 --preset short-history --users 64000 --items 1000 --test-share 0.5 --seed 6 --truth
#   mkdir -p .device && cp -r /tmp/w-shorth64/train .device/w-shorth64-train   # .device/ is in .git/info/exclude
# then, through the device tool (carry .device): bash bench/gpu-training.sh .device/w-shorth64-train
# Each step's log goes to $OUT (the folder the device tool brings back), else /tmp/gpu-training.
# Every step has its own time limit, so that one that runs long still leaves the others' results.
set -u
data=${1:?usage: bash bench/gpu-training.sh TRAIN_DIR}
out=${OUT:-/tmp/gpu-training}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=.

step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name ($limit s at most): $*"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  echo "== $name: exit $? (124: cut at its limit), ${SECONDS} s into the script"
}

nightly_flags=(--epochs 20 --loss all --tokens 10 --token-attention cross --ensemble auto --item-rates crossfit
               --crossfit-networks 1 --co-likes auto --latent-classes auto --choice-prior auto --max-episodes 30000)

{ nvidia-smi; $py -c 'import torch, numpy; print("torch", torch.__version__, "cuda", torch.version.cuda, "numpy", numpy.__version__)'; } > "$out/machine.log" 2>&1
step torch-fp32 45 $py -m trainer.throughput --device cuda
step torch-fp16 45 $py -m trainer.throughput --device cuda --half
step torch-cpu 45 $py -m trainer.throughput --device cpu
step devices 200 $py -m trainer.bench_devices --data "$data" --devices cuda,cpu --batches 128,1024 --epochs 2 --work /tmp/devices \
  -- --max-episodes 30000 --tokens 10 --token-attention cross --loss all
# The nightly's own command (bench:train-time's, one seed) with its log lines shown, so that a run
# cut short still shows each epoch's time.
started=$(date +%s%N)
step nightly 320 $py -m trainer.train --data "$data" --out /tmp/nightly --seed 0 --device cuda "${nightly_flags[@]}"
echo "nightly from start to exit: $(( ($(date +%s%N) - started) / 1000000 )) ms" | tee -a "$out/nightly.log"
cp /tmp/nightly/metrics.json "$out/nightly-metrics.json" 2>/dev/null

cat "$out/machine.log"
# Each table, or the end of a step's log where it has none (an error).
for name in torch-fp32 torch-fp16 torch-cpu devices; do
  echo "== $name"
  if grep -q '^|' "$out/$name.log"; then sed -n '/^|/,$p' "$out/$name.log" | tail -n 20; else tail -n 6 "$out/$name.log"; fi
done
echo "== nightly"; grep -v Warning "$out/nightly.log" | tail -n 12
