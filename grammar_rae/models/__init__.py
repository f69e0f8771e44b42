"""Networks, losses and the four models (CVAE, GVAE, GCVAE, GrammarRAE)."""

from grammar_rae.models.autoencoders import RAE, VAE, Autoencoder, ConstantVarianceVAE, LossTerms, build_model
from grammar_rae.models.config import MODELS, ModelConfig

__all__ = ["MODELS", "RAE", "VAE", "Autoencoder", "ConstantVarianceVAE", "LossTerms", "ModelConfig", "build_model"]
