"""Tools around the engine: the torchvision converter, the benchmarks and their PyTorch side, model summaries."""
