"""Conda environments persisted on the home volume and offered as kernels at once (issue 4)."""
