"""CctvClient: the one way the CLI and the TUI reach a recording server."""
