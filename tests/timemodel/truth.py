"""Known time-model parameters shared by the time-model tests."""

from chainopt.timemodel import KernelTime, TimeModel

#: Known parameters, chosen so that every term of each kernel matters on the
#: grid (the cache knees and the overlap of writing included).
TRUTH = {
    "gemm": KernelTime(1.5e-6, 1.2e-11, 3e-11, 1.5e-10, 2e6, 3.0, 0.8, 5e6, (6.0, 12.0, 4.0),
                       (0.9, 1.4, 1.0, 1.6, 1.5, 1.7, 1.1, 0.8, 1.3, 0.9, 1.8, 1.2, 1.6, 1.0),
                       overlap=1.5, write_cache_bytes=8e6, write_beyond_cache=1.5,
                       read_norm=1.8, left_read=0.7, small_write=0.8),
    "syrk": KernelTime(4e-6, 1.5e-11, 2e-10, 3e-10, 0.0, 0.0, 0.5, 2e7, (10.0, 6.0),
                       overlap=0.7, write_cache_bytes=3e6, write_beyond_cache=2.0),
    "gemv": KernelTime(1e-6, 0.0, 2e-11, 0.0, 2.5e6, 4.0, pads=(5.0, 7.0), row_vector=0.3),
    "outer": KernelTime(9e-7, 0.0, 2e-11, 1.2e-10, write_cache_bytes=1.5e6,
                        write_beyond_cache=2.5),
    "scale": KernelTime(1.3e-6, 0.0, 4e-11, 0.0, 2e6, 3.0),
    "dot": KernelTime(7e-7, 0.0, 2e-11),
    "diag": KernelTime(6e-7, 0.0, 1e-11),
}
TRUE_MODEL = TimeModel(TRUTH, "truth", {"cpu": "synthetic"}, first_touch=4e-11)
