"""Code generation: joint graph → Numba kernel source (partition, fusion, lowering, emit, build)."""
