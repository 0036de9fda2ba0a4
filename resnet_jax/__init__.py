"""resnet_jax: Deep Residual Learning (He et al. 2015) and its lesion studies (Veit et al. 2016) in JAX/Flax."""
