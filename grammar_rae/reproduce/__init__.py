"""Paper reproductions (``grammar-rae reproduce expressions|molecules``): resumable pipelines of
training, evaluation and Bayesian optimisation that end in the papers' tables."""
