"""kernels: load compute kernels for PyTorch from the Hugging Face Hub or local builds."""

__version__ = "0.18.0.dev0"
