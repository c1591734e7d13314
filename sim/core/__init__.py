"""The simulator core: population state, random streams, the daily processes, the Mesa model.

==================  ===============================================================
module              what it models
==================  ===============================================================
``rng``             named random streams, dense per slot and day (common random numbers)
``population``      the struct-of-arrays state, latent traits, the population schema
``flags``           the bits of the per-slot flags byte
``awareness``       Bass awareness, conversion and forgetting (the funnel)
``visits``          visits, purchases and habit
``survival``        latent death and natural resurrection (sBG / beta-discrete-Weibull)
``lifecycle``       observable stages and the relabelling rule
``daily_log``       the daily counters (DAU/WAU/MAU, stages, revenue, costs)
``hooks``           the lever hook contract and the per-chunk views
``model``           the Mesa model: receives population, levers, horizon and seed; steps days
``agent``           users as Mesa agents, and the agent-by-agent reference stepping
==================  ===============================================================

The core imports nothing from the layers above it (levers, analysis, output, app).
"""
