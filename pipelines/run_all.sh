#!/usr/bin/env bash
# Chain the pipeline with SLURM dependencies: training array, then evaluation + submission.
# Download the data first, on a node with internet access:  bash pipelines/download_data.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p logs
train=$(sbatch --parsable pipelines/train.sbatch)
echo "training array: $train"
submit=$(sbatch --parsable --dependency="afterok:$train" pipelines/predict_submit.sbatch)
echo "evaluation and submission: $submit (starts when every training task has finished)"
