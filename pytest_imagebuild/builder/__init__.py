"""The embedded executor: Dockerfile to image, without a daemon or root."""
