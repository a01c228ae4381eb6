"""What the allocation means for the schools and what to build: seats short and classes
(:mod:`~schoolmap.planning.capacity`), the year-by-year simulation
(:mod:`~schoolmap.planning.simulation`) and new schools (:mod:`~schoolmap.planning.siting`)."""
