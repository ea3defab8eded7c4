#!/usr/bin/env bash
# Run ON THE DEVICE from the repository root, after benchmarks/gpu_prepare.sh here, in one
# device call of at most 9 minutes: installs the carried wheels next to the GPU image's own
# PyTorch, then benchmarks/gpu_check.py writes gpu_check.json / gpu_check.md after every
# section (and the time-boxed training's train.log, metrics.jsonl and curves.png, no weights)
# under $OUT, with this script's output in gpu_check.log: 6 files at most.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 benchmarks/gpu_check.py --out "$OUT" --data data/DIC-C2DH-HeLa --minutes 8.5 "$@" \
  2>&1 | tee "$OUT/gpu_check.log"
