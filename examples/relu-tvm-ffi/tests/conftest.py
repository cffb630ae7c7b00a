def pytest_configure(config):
    config.addinivalue_line("markers", "kernels_ci: cheap tests that CI runs for every build")
