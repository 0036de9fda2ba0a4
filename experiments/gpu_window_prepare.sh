#!/usr/bin/env bash
# Here, before a GPU window: what experiments/gpu_window.sh needs on the GPU machine, in ignored folders of this
# checkout (name them in the device call's carry): .whl/ (the wheels of gpu_window_wheels.txt), .data/ (CIFAR-10's
# JPEG copy and the 846 original-pixel test images, from $DATASETS, default ../shared/datasets) and .device/ (the
# previous window's results, to resume: pass the folder its files came back to).
#
#   bash experiments/gpu_window_prepare.sh [PREVIOUS_WINDOW_FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
datasets=${DATASETS:-../shared/datasets}
for name in cifar10-jpeg.tar.gz cifar10-test-exact846.npz; do
  [[ -f "$datasets/$name" ]] || { echo "error: $datasets/$name does not exist: set DATASETS to the folder that" \
    "holds cifar10-jpeg.tar.gz and cifar10-test-exact846.npz." >&2; exit 2; }
done
rm -rf .whl .data .device && mkdir -p .whl .data .device
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl \
  -r experiments/gpu_window_wheels.txt
cp "$datasets/cifar10-jpeg.tar.gz" "$datasets/cifar10-test-exact846.npz" .data/
if [[ $# -ge 1 ]]; then
  cp "$1"/paper.tar.gz .device/ || { echo "error: $1 holds no paper.tar.gz: pass the folder where the last" \
    "window's files came back." >&2; exit 2; }
fi
echo "Ready: $(du -sh .whl | cut -f1) of wheels, $(du -sh .data | cut -f1) of data, $(ls .device | wc -l) previous" \
  "results. Device call: command 'bash experiments/gpu_window.sh --budget_seconds=480', carry .whl .data .device."
