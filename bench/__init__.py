"""Load benchmarks of echoscope against its peers (see bench/README.md)."""
