"""Running a planning study: load a scenario and orchestrate the rooms below
(:mod:`~schoolmap.run.scenario`), write its outputs (:mod:`~schoolmap.run.outputs`), many
districts and ensembles on Dask (:mod:`~schoolmap.run.distributed`) and the command line
(:mod:`~schoolmap.run.cli`). Nothing below this room imports from it."""
