def pytest_configure(config):
    # kernel-builder registers this marker in its generated pyproject.toml; do it here so the
    # tests also run from a plain checkout: `pytest tests -m kernels_ci`.
    config.addinivalue_line("markers", "kernels_ci: cheap tests run by kernel CI (< 60 s in all)")
