"""Analysis: measures, economics, fits and calibration algorithms over plain data.

==================  ===============================================================
module              what it computes
==================  ===============================================================
``retention``       pooled classic retention from the cohort matrix; the cohort table
``events``          classic, rolling and bracket retention, cohort triangles, from visit events
``visit_stats``     the same measures from per-user statistics kept while a run steps
``growth``          growth accounting (new, retained, resurrected, churned) and the quick ratio
``analytics``       the per-run analysis: measures, funnel, survival fits of rolling retention
``summary``         the headline numbers of a run
``economics``       costs, ROI, incremental results, CAC, LTV, payback, marginal ROI
``survival_fit``    maximum-likelihood sBG and beta-discrete-Weibull fits
``retention_data``  reading an analyst's retention tables (CSV)
``calibration``     fitting a simulator (handed in as a function) to retention and new users
``stats``           Student-t and binomial intervals
``sweep_stats``     per sweep point: mean, interval over seeds, P(best), rank
==================  ===============================================================

Analysis works on arrays, tables and numbers: it imports neither the simulator
core nor the levers (an independence contract in the tests), so every function
here can be used on data from any source.
"""
