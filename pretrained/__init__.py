"""Pretrained models shipped with grammar-rae (installed as ``grammar_rae.pretrained``); each folder's README.md is its model card."""
