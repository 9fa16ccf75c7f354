"""In-process adapters: for tests, examples and library use without any server."""
