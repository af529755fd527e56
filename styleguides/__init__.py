"""Style guides: verticals, brand and vertical style guides with versions, brand rules,
prompt templates and snippets."""
