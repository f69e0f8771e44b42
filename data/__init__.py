"""Data files shipped with grammar-rae (installed as the package ``grammar_rae.datafiles``)."""
