"""Prints the browser checks' one-line summaries at the end of the run: the book (counts per check,
worst pages) and JupyterLab (the time each step of the workshop run took)."""


def pytest_terminal_summary(terminalreporter, config):
    line = getattr(config, "browser_summary", None)
    if line:
        terminalreporter.write_sep("-", "book in the browser")
        terminalreporter.write_line(line)
    line = getattr(config, "lab_summary", None)
    if line:
        terminalreporter.write_sep("-", "JupyterLab in the browser")
        terminalreporter.write_line(line)
