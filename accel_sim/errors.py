"""Errors a user can cause (bad names, files, numbers); one clear line each.

The `codesign` command line prints them without a traceback and exits with status 2.
"""


class UserError(ValueError):
    """Bad input from the user. The message is one line naming the field and the allowed values."""
