"""shiftlab: how an image classifier behaves, and why, when its input distribution shifts."""

__version__ = "0.1.0"
