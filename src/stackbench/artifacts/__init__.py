"""Artifact builders: each fills the mirror tree in its upstream URL layout, cached by version."""
