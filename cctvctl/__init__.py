"""cctvctl: terminal-first operations console for a regency-wide CCTV network."""

__version__ = "0.1.0"
