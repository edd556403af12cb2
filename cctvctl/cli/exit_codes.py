"""Exit codes: scripts and cron jobs branch on these, so they never change meaning."""

OK = 0
FAILURE = 1
USAGE = 2  # usage or bad input (also what click uses for a bad flag)
PARTIAL = 3  # some targets failed, the rest succeeded
AUTH = 4  # token missing, wrong, or lacking the role
UNREACHABLE = 5  # the server could not be reached

HELP_TEXT = (
    "Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 partial (some targets failed), "
    "4 auth, 5 unreachable."
)
