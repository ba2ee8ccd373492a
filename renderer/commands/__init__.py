"""The commands: each wires the pipeline's stages for one job and never parses a command line itself."""
