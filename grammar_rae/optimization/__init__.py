"""Latent-space Bayesian optimisation: a sparse-GP surrogate, batch expected improvement, the BO loop."""
