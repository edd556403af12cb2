"""Clip export jobs (stream copy) and their manifests."""
