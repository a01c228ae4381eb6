"""What a planner reads: maps (:mod:`schoolmap.present.maps`), the report and its charts.

This room draws result tables computed elsewhere; it never computes a planning figure.
"""
