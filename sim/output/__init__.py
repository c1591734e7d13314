"""Output: result folders, figures and self-contained HTML pages.

==================  ===============================================================
module              what it writes
==================  ===============================================================
``files``           atomic file writes (a reader never sees half a file)
``completion``      ``DONE.json``: a result folder's marker, with each file's size and hash
``result``          :class:`~sim.output.result.Result` and its result folder
``style``           the house style of figures (``opsim.mplstyle``, palette, formatters)
``figures``         the figures of one run (matplotlib ``Figure`` objects, optional Axes)
``formatting``      numbers as text: money with currency, separators, signs, intervals
``html``            page skeleton and shared pieces: tables, side by side, definitions box
``verdict``         the one-line answer "pays back on day N / does not", with intervals
``glossary``        what every headline number means (the definitions box's text)
``run_report``      ``report.html`` of a run folder
``index_page``      ``index.html`` of a folder of runs (a sweep), linking every report
``sweep_report``    the sweep's ranked table (Markdown, CSV, Parquet), figures and page
==================  ===============================================================

Pages for new results (the planner's) are built from the same pieces:
:func:`~sim.output.html.page` for the document, :func:`~sim.output.verdict.verdict_html`
for the answer at the top (a :class:`~sim.output.verdict.Verdict` holds its numbers),
:func:`~sim.output.html.definitions_html` with
:func:`~sim.output.glossary.definitions`,
:func:`~sim.output.html.side_by_side_html` for plan vs base,
:func:`~sim.output.html.table_html` with :class:`~sim.output.html.Cell`,
:mod:`~sim.output.formatting` for every number, and
:func:`~sim.output.style.house_style` around every figure.

Output reads the results of the layers below (core, levers, analysis) and never
changes process-wide state: figures are drawn on their own ``Figure`` objects, so a
notebook's matplotlib backend stays as it was.
"""
