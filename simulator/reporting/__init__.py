"""Output for people: the terminal table, figures, queue timelines, report.md /
report.html, and the plan command's tables and Pareto figure."""
