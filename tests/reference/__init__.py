"""Reference code for tests and benchmarks: the data generator and the brute-force solver."""
