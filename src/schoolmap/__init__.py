"""schoolmap: enrolment scenarios, seat shortfalls, catchments and school siting for planners."""
