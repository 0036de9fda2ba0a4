#!/bin/bash
# A multi-node GPU run under SLURM: one task per node, every GPU of the node in that task.
# launch.py sees SLURM_NTASKS > 1 and calls jax.distributed.initialize(), which reads the coordinator, the number
# of processes and this process's id from SLURM's environment. The workdir must be on a shared file system.
#SBATCH --job-name=resnet56
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --time=02:00:00
srun .venv/bin/python launch.py --config=configs/cifar10.py:resnet56 --workdir="$HOME/runs/resnet56" \
    --config.batch_size=128 --config.dataset.source=folder --config.dataset.dir="$HOME/data/cifar10.tar.gz"
