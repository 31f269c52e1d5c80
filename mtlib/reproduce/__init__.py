"""The paper's experiments at paper scale: presets, the command line, torchrun (DDP)."""
