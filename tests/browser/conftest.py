"""Prints the browser check's one-line summary (counts per check, worst pages) at the end of the run."""


def pytest_terminal_summary(terminalreporter, config):
    line = getattr(config, "browser_summary", None)
    if line:
        terminalreporter.write_sep("-", "book in the browser")
        terminalreporter.write_line(line)
