"""One module per coding-tool family; the registry lists them in display order."""
