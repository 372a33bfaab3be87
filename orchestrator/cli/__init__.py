"""The command line: management commands of Choreo."""
