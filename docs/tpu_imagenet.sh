#!/bin/bash
# ImageNet ResNet-50 (the modern recipe) on a multi-host Cloud TPU slice: the same command on every host.
# launch.py sees TPU_WORKER_HOSTNAMES with several hosts and calls jax.distributed.initialize(), which finds the
# coordinator itself. The workdir must be a file system every host mounts (e.g. Filestore at /mnt/shared; the
# code writes with local file calls, so not a gs:// path); the data dir may be a per-host copy or that mount.
# Learning rate and epoch length follow --config.batch_size. dataset.source=tfds: install requirements-tfds.txt on every
# host too (.venv/bin/pip install -r requirements-tfds.txt).
TPU=my-v4-32 ZONE=us-central2-b
gcloud compute tpus tpu-vm ssh "$TPU" --zone="$ZONE" --worker=all --command="cd resnet_jax && \
  .venv/bin/python launch.py --config=configs/imagenet.py:resnet50,modern --workdir=/mnt/shared/runs/resnet50 \
  --config.batch_size=1024 --config.dataset.source=tfds --config.dataset.dir=/mnt/shared/tensorflow_datasets"
