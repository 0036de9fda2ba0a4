"""Datasets. Every source yields uint8 images (N, H, W, 3) and int32 labels; nothing here imports TensorFlow
except the tfds source, and that only when it is used."""
