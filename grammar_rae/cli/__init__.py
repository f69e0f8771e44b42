"""The ``grammar-rae`` command line: argument parsing and printing over the Python API."""
