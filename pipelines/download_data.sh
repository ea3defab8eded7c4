#!/usr/bin/env bash
# Download CTC training and challenge datasets into the data root, e.g. on an HPC login node
# (compute nodes are often offline). Run it once before submitting training jobs.
#
#   bash pipelines/download_data.sh PhC-U373 DIC-HeLa
#
# Environment:
#   CTC_DATA_DIR     data root (default: the user cache folder, ~/.cache/ctc-unet/data)
#   CTC_UNET_MIRROR  base URL of a mirror of the CTC data server (optional)
#   CTC_UNET         command that runs the CLI (default: ctc-unet)
set -euo pipefail

if [ "$#" -eq 0 ]; then
  set -- PhC-C2DH-U373 DIC-C2DH-HeLa
fi
read -r -a cli <<< "${CTC_UNET:-ctc-unet}"

for name in "$@"; do
  "${cli[@]}" download "$name"
  "${cli[@]}" download "$name" --challenge
done
"${cli[@]}" datasets
