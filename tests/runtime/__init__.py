"""Runtime tests (a package, so its test_errors.py does not clash with tracer/test_errors.py)."""
