"""Floors: the least a Textual program can do, to compare guildwatch with."""
