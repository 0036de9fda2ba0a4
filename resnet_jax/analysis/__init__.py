"""Studies of trained networks: layer responses (He et al. 2015, Fig. 7), deleting and reordering blocks, and
path lengths (Veit et al. 2016). Each works on a `trained.TrainedNet` (a net of a trained workdir) and never
recompiles per configuration."""
