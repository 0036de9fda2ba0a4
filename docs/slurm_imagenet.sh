#!/bin/bash
# ImageNet ResNet-50 (the paper's recipe) as the paper trained it: batch 256 on 8 GPUs, BN over each GPU's 32
# images (the recipe's model.bn_group_size=32), one training process (task) per GPU. launch.py sees an srun step
# of 8 tasks and calls jax.distributed.initialize(). Each process decodes only the rows of the global batch its GPU
# holds, with --cpus-per-task threads (the recipe's dataset.workers: the CPUs SLURM granted), and evaluates every
# 8th validation image; orbax writes each checkpoint once. More nodes (--nodes=N): keep 32 images per GPU with
# --config.batch_size=$((256 * N)) (the learning rate follows the batch), or pass --config.model.bn_group_size=0
# for BN over the whole batch. Submit from anywhere: sbatch /path/to/resnet_jax/docs/slurm_imagenet.sh
# 300 s before the time limit every process gets SIGTERM, saves and exits 0; submit the same file again to resume.
#SBATCH --job-name=resnet50
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=TERM@300
# The checkout this file is in (sbatch runs a copy of it elsewhere); REPO=/path sbatch ... overrides it.
REPO=${REPO:-$(dirname "$(dirname "$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=//p')")")}
cd "$REPO" || exit 1
export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"  # srun (SLURM 22.05 on) does not inherit --cpus-per-task.
srun "$REPO/.venv/bin/python" launch.py --config=configs/imagenet.py:resnet50 --workdir="$HOME/runs/resnet50" \
    --config.dataset.dir=/data/imagenet
