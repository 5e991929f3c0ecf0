"""The user programs: C sources, runtime and built ELFs."""
