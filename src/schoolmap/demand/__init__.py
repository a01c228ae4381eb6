"""Who needs a seat: students by cell and grade from the district's residents
(:mod:`~schoolmap.demand.cells`), and the enrolment forecast (:mod:`~schoolmap.demand.forecast`)."""

from schoolmap.demand.cells import (
    counts_students,
    demand_by_cell_grade,
    level_schools,
    students_column,
)

__all__ = ["counts_students", "demand_by_cell_grade", "level_schools", "students_column"]
