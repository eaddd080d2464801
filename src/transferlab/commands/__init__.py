"""The command line's sub-commands, one module per command family: each parses its options, calls
the library, and prints. Nothing outside :mod:`transferlab.cli` imports these modules."""
