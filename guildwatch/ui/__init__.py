"""The Textual screen: a thin view that renders the status store."""
