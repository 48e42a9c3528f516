"""Everything that speaks to tmux: the pure protocol and layout parsers, the
command builder, the control-mode client and the per-session hub."""
