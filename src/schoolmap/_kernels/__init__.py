"""Numba kernels: plain NumPy arrays in, arrays out. Nothing here validates input.

A kernel hands its helpers counters, flags and sentinels typed ``np.int64(…)`` / ``np.bool_(…)``,
never a bare ``0``, ``-1`` or ``True``: numba compiles a helper once more for each literal it is
called with, and a counter ``k = 0`` carried through a loop is first typed ``Literal[int](0)``
(one wasted compile of every helper it reaches). That was ~4 s of the engine's compile and ~8 s
of a cold demo run (tested: ``test_engine_helpers_are_not_compiled_for_literal_arguments``).
"""
