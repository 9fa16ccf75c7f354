"""The operator's console: one page, its script and styles (package data, served by `apps.service.console_page`)."""
