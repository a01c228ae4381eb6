"""Numba kernels: plain NumPy arrays in, arrays out. Nothing here validates input."""
