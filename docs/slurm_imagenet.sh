#!/bin/bash
# ImageNet ResNet-50 (the paper's recipe) on 4 nodes of 8 GPUs under SLURM: one task per node.
# launch.py sees SLURM_NTASKS > 1 and calls jax.distributed.initialize(). Each process decodes only the rows of
# the global batch that its own GPUs hold (and evaluates every process_count-th validation image); orbax writes
# each checkpoint once. The workdir must be on a shared file system; the data dir may be a per-node copy.
# The global batch of 256 over 32 GPUs is 8 per GPU; bn_group_size=32 keeps the paper's BN over 32 images.
#SBATCH --job-name=resnet50
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=24:00:00
srun .venv/bin/python launch.py --config=configs/imagenet.py:resnet50 --workdir="$HOME/runs/resnet50" \
    --config.dataset.dir=/data/imagenet --config.dataset.workers="$SLURM_CPUS_PER_TASK" \
    --config.batch_size=256 --config.model.bn_group_size=0
