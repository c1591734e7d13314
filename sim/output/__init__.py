"""Output: result folders, figures and self-contained HTML pages.

==================  ===============================================================
module              what it writes
==================  ===============================================================
``files``           atomic file writes (a reader never sees half a file)
``completion``      ``DONE.json``: a result folder's marker, with each file's size and hash
``result``          :class:`~sim.output.result.Result` and its result folder
``figures``         the figures of one run (matplotlib ``Figure`` objects, optional Axes)
``html``            the page skeleton shared by every report
``run_report``      ``report.html`` of a run folder, and the index of a folder of runs
``sweep_report``    the sweep's ranked table (Markdown, CSV, Parquet), figures and page
==================  ===============================================================

Output reads the results of the layers below (core, levers, analysis) and never
changes process-wide state: figures are drawn on their own ``Figure`` objects, so a
notebook's matplotlib backend stays as it was.
"""
