"""tmuxweb: a web front end for tmux, driven in control mode."""

__version__ = "0.1.0"
