"""Trained weights shipped with emogen: one diffusers folder per pipeline, each with a model card (README.md)."""
