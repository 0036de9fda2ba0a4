#!/bin/bash
# A multi-node GPU run under SLURM, one training process (task) per GPU: JAX's layout under SLURM, where each
# process takes the GPU numbered by its SLURM_LOCALID (one task per node with 8 GPUs would train on one of them;
# the run's first lines warn when GPUs sit idle). launch.py sees an srun step of several tasks and calls
# jax.distributed.initialize(), which reads the coordinator, the process count and this process's id from SLURM.
# The workdir must be on a shared file system. Submit from anywhere: sbatch /path/to/resnet_jax/docs/slurm.sh
# 180 s before the time limit every process gets SIGTERM, saves a checkpoint and exits 0; submit the same file
# again to resume. (Sweeps requeue themselves: README.md, "Clusters".)
#SBATCH --job-name=resnet56
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --signal=TERM@180
# The checkout this file is in (sbatch runs a copy of it elsewhere); REPO=/path sbatch ... overrides it.
REPO=${REPO:-$(dirname "$(dirname "$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=//p')")")}
cd "$REPO" || exit 1
export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"  # srun (SLURM 22.05 on) does not inherit --cpus-per-task.
srun "$REPO/.venv/bin/python" launch.py --config=configs/cifar10.py:resnet56 --workdir="$HOME/runs/resnet56" \
    --config.batch_size=128 --config.dataset.source=folder --config.dataset.dir="$HOME/data/cifar10.tar.gz"
