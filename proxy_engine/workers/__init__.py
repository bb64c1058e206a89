"""`serve --workers N`: one supervisor process and N worker processes on one port."""
