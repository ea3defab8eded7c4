#!/usr/bin/env bash
# Run HERE (a machine with PyPI) before the device call: puts what benchmarks/gpu_check.sh
# needs into two git-ignored folders that the device call carries:
#   .whl/                    wheels (Python 3.12, x86_64) of the packages the GPU image lacks
#   data/DIC-C2DH-HeLa/      sequence 01 with its GT and ST (the reporting frames' reference)
# Then, with the device tool: run(command="bash benchmarks/gpu_check.sh", carry=[".whl", "data"],
# timeout_s=600). About 52 MB in all (the carry limit is 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="${1:-${CTC_DATA_DIR:-../shared/data}}/DIC-C2DH-HeLa"
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  monai==1.6.1 py-ctcmetrics==1.3.3 pooch==1.9.0 platformdirs imagecodecs
mkdir -p data/DIC-C2DH-HeLa
for d in 01 01_GT 01_ST; do
  rm -rf "data/DIC-C2DH-HeLa/$d"
  cp -r "$SRC/$d" "data/DIC-C2DH-HeLa/$d"
done
du -sh .whl data
