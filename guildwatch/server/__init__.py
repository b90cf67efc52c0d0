"""The reference server for the guildwatch protocol (``guildwatch-server``).

Its own subpackage: the client never imports it (checked by ``tests/test_layers.py``).
"""
