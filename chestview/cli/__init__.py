"""The command line: `chestview` (the app), `chestview predict|models|bench|train|eval`."""
