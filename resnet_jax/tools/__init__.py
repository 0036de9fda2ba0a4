"""Tools around the library, which never imports them: the torchvision converter, the benchmarks and their PyTorch
side, the SLURM array writer, and the GPU window's units of work."""
