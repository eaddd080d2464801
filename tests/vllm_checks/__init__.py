"""The vLLM engine checks (see conftest.py): a package, so that its conftest is not the top-level ``conftest``."""
