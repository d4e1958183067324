"""Benchmarks and hardening runs of the serving path, the gateway, the pipeline and the Lambdas.

`make bench` (`python -m bench`) runs them all; tests/hardening runs short versions.
"""
