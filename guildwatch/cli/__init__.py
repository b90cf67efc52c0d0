"""The command line: flags, configuration, secrets, headless output and the demo."""
