"""Training the CIFAR-10 zoo: the training loop (``train``), the robust-training variants, their augmentations."""
