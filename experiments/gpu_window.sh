#!/usr/bin/env bash
# On the GPU machine (its image: Python 3.12, jax 0.11.2, flax, optax, orbax, torch; no ml_collections, clu,
# tfds or TensorFlow; no network): installs the carried wheels, resumes the previous window's results, runs
# experiments/gpu_window.py over CIFAR-10's carried JPEG copy with the arguments given, and leaves the results in
# $OUT (paper.tar.gz: the root without checkpoints, or with them where they fit in 15 MiB; the report's tables).
# Prepare here first: experiments/gpu_window_prepare.sh.
#
#   bash experiments/gpu_window.sh --budget_seconds=480 [gpu_window.py flags]
set -uo pipefail
cd "$(dirname "$0")/.."
site=${SITE:-/tmp/site}
python3 -m pip install -q --isolated --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$site" .whl/*.whl || { echo "error: the carried wheels did not install: run" \
  "experiments/gpu_window_prepare.sh here and carry .whl." >&2; exit 2; }
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
root=workdirs/paper
if [[ -f .device/paper.tar.gz ]]; then tar -xzf .device/paper.tar.gz && echo "Resumed the previous window's $root."; fi
python3 experiments/gpu_window.py --root="$root" --set=dataset.source=folder \
  --set=dataset.dir=.data/cifar10-jpeg.tar.gz --exact846=.data/cifar10-test-exact846.npz \
  --jpeg_copy=.data/cifar10-jpeg.tar.gz "$@"
status=$?
if [[ -n "${OUT:-}" && -d "$root" ]]; then
  tar -czf "$OUT/paper.tar.gz" "$root"
  if (( $(stat -c %s "$OUT/paper.tar.gz") > 15 * 2**20 )); then
    tar -czf "$OUT/paper.tar.gz" --exclude=checkpoints "$root"
    echo "The checkpoints did not fit in 15 MiB: $OUT/paper.tar.gz holds the metrics, configs and logs (finished" \
      "runs are recorded; unfinished ones start again)."
  fi
  [[ -d "$root/report" ]] && tar -czf "$OUT/report.tar.gz" -C "$root" report
fi
exit $status
