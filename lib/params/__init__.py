"""Layer 0 — parameters: ``params.yaml``'s schema per section, its profiles, the choice lists and the paths.
Torch-free; imports nothing from the layers above."""
