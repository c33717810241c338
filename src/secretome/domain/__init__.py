"""Pure domain rules: no Django, no files, no clock. Data and time come in as arguments."""
