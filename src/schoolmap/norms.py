"""Planning norms: class sizes, class-size bands, service radii, school sizes, grade systems.

The defaults are the Chinese national norms planners cite (幼儿园工作规程 2016, 建标102-2002,
GB 50180-2018, MOE notices on 大班额, 教督〔2017〕6号). Every value can be overridden in a
scenario's ``[norms]`` table, and the norms used are written into every run's ``summary.json``.

Grade systems:

- ``"6+3"`` (default): kindergarten ages 3–5, primary 6 grades, junior 3, senior 3; entry age 6.
- ``"5+4"`` (Shanghai): primary 5 grades, junior 4.
- ``"us"`` (United States; defaults from North Carolina): pre-K ages 3–4 (the ``kindergarten``
  level), elementary K–5 = ``primary`` (6 grades, ages 5–10), middle 6–8 = ``junior`` (ages
  11–13), high 9–12 = ``senior`` (4 grades, ages 14–17); entry age 5 (kindergarten). See
  :data:`US_NORMS_SOURCES` for the class sizes and radii.

Examples
--------
>>> n = default_norms()
>>> n.level("primary").ages
(6, 7, 8, 9, 10, 11)
>>> n.with_overrides({"grade_system": "5+4"}).level("junior").ages
(11, 12, 13, 14)
>>> n.with_overrides({"primary": {"class_size": 40}}).level("primary").class_sizes
(40, 40, 40, 40, 40, 40)

The US system: four high-school grades, elementary starting with kindergarten at age 5:

>>> us = n.with_overrides({"grade_system": "us"})
>>> us.entry_age, us.level("senior").ages, us.level("primary").ages[0]
(5, (14, 15, 16, 17), 5)
>>> us.level("primary").class_sizes, round(us.level("junior").service_radius_m)
((18, 16, 17, 17, 24, 24), 2414)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schoolmap.errors import Problem, ValidationError
from schoolmap.i18n import US_LEVEL_NAMES

__all__ = [
    "GRADE_SYSTEMS",
    "LEVELS",
    "SCHOOL_TYPES",
    "US_LEVEL_NAMES",
    "US_NORMS_SOURCES",
    "ClassBands",
    "LevelNorm",
    "LOCALITIES",
    "Norms",
    "ResourceNorm",
    "default_norms",
    "levels_from_table",
]

#: Levels students are allocated at (学段).
LEVELS: tuple[str, ...] = ("kindergarten", "primary", "junior", "senior")


def levels_from_table(value: Any, where: str, problems: list) -> tuple[str, ...] | None:
    """A scenario table's ``levels`` list as a tuple, or None with a problem appended when it is
    not a list of :data:`LEVELS`.

    >>> levels_from_table(["primary"], "s.toml [siting]", [])
    ('primary',)
    """
    if not isinstance(value, list) or any(lv not in LEVELS for lv in value):
        problems.append(f"{where}: levels must be a list of {', '.join(LEVELS)}; got {value!r}")
        return None
    return tuple(value)

#: School types in the ``schools`` layer and the levels each serves.
SCHOOL_TYPES: dict[str, tuple[str, ...]] = {
    "kindergarten": ("kindergarten",),
    "primary": ("primary",),
    "junior": ("junior",),
    "senior": ("senior",),
    "nine_year": ("primary", "junior"),
    "twelve_year": ("primary", "junior", "senior"),
}

#: Grade systems: number of grades of each level, in :data:`LEVELS` order (kindergarten,
#: primary, junior, senior).
GRADE_SYSTEMS: dict[str, tuple[int, int, int, int]] = {
    "6+3": (3, 6, 3, 3),
    "5+4": (3, 5, 4, 3),
    "us": (2, 6, 3, 4),
}

#: Entry age (first grade of ``primary``) a grade system takes unless ``entry_age`` is set.
_DEFAULT_ENTRY_AGE = {"6+3": 6, "5+4": 6, "us": 5}

#: Whose norms a grade system's levels start from (class sizes, radii, rates).
_NORM_FAMILY = {"6+3": "cn", "5+4": "cn", "us": "us"}


_MILE_M = 1609.344

#: Where the ``"us"`` defaults come from (written into ``summary.json`` with the norms).
US_NORMS_SOURCES: dict[str, str] = {
    "class_size": (
        "North Carolina teacher allotment ratios (NC DPI allotment policy; G.S. 115C-301 for "
        "K-3): K 18, grade 1 16, grades 2-3 17, grades 4-6 24, grades 7-8 23, grade 9 26 "
        "(26.5), grades 10-12 29; NC Pre-K classes at most 18 children"),
    "service_radius_m": (
        "walk zones common in US district transportation policies: elementary 1 mile "
        "(1,609 m), middle 1.5 miles (2,414 m), high 2 miles (3,219 m), pre-K 1 mile; NC buses "
        "students living 1.5 miles or more from school (G.S. 115C-242)"),
    "enrolment_rate": (
        "K-12 1.0 (ages x rate is used only when cells carry no students_<level> counts); "
        "pre-K 0.5: about half of 3-4-year-olds attend a pre-school programme (NCES)"),
    "standard_classes": "none: US states set no standard school sizes; set your district's",
}


@dataclass(frozen=True)
class ClassBands:
    """Class-size bands of the Ministry of Education (students per class).

    A class of ``size`` students is *normal* when ``size <= normal_max`` (≤ 45), *large* up to
    ``large_max`` (46–55), 大班额 up to ``oversized_max`` (56–65) and 超大班额 above (66+).
    """

    normal_max: int = 45
    large_max: int = 55
    oversized_max: int = 65
    #: national targets: share of classes that may be 大班额 (56+) / 超大班额 (66+)
    target_share_56_plus: float = 0.05
    target_share_66_plus: float = 0.02


#: Where a school is, for the staffing norms: 城市 (city), 县镇 (county town), 农村 (rural).
LOCALITIES: tuple[str, ...] = ("urban", "county", "rural")


@dataclass(frozen=True)
class ResourceNorm:
    """Resource norms of one level: staff posts (编制), building and land area, funds, cost.

    Set in a scenario's ``[norms.resources.<level>]`` table; the sources of every default are
    in ``docs/norms.md`` (values marked "(check)" there are not verified against the text).

    Attributes
    ----------
    level : str
    students_per_post : tuple of float
        Students per staff post (教职工编制, 生师比 1 : x) in urban, county-town and rural
        schools (:data:`LOCALITIES` order).
    posts_per_class : float
        Posts per class of the class-based rule (班师比): kindergartens always, other levels in
        rural schools of at most ``class_rule_max_students`` students; a school gets the larger
        of the two rules.
    class_rule_max_students : int
        Largest rural school (students) staffed by the class-based rule as well.
    area_classes : tuple of int
        School sizes (classes) the area norms are given for, ascending.
    building_m2_per_student, land_m2_per_student : tuple of float
        Building (校舍建筑面积) and land (用地) area per student (m²) at each size of
        ``area_classes``; a school takes the figure of the smallest size holding its classes.
    funds_per_student_yuan : float
        Operating funds (生均公用经费) per student per year (yuan).
    funds_per_boarder_yuan : float
        Extra funds per boarding student per year (yuan).
    funds_min_students : int
        Small schools are funded as if they had this many students (0: no such rule).
    cost_per_m2_yuan : float
        Construction cost per m² of building (yuan).
    """

    level: str
    students_per_post: tuple[float, ...]
    posts_per_class: float
    class_rule_max_students: int
    area_classes: tuple[int, ...]
    building_m2_per_student: tuple[float, ...]
    land_m2_per_student: tuple[float, ...]
    funds_per_student_yuan: float = 0.0
    funds_per_boarder_yuan: float = 0.0
    funds_min_students: int = 0
    cost_per_m2_yuan: float = 4000.0

    def area_index(self, classes: float) -> int:
        """Index into ``area_classes`` of the smallest size holding ``classes`` (else the last).

        >>> default_norms().resource("primary").area_index(20)
        2
        """
        for i, c in enumerate(self.area_classes):
            if classes <= c:
                return i
        return len(self.area_classes) - 1


def _default_resources() -> tuple[ResourceNorm, ...]:
    """The national resource defaults (docs/norms.md gives the source of each)."""
    return (
        # 幼儿园教职工配备标准（暂行）2013: staff 1:5–1:7, 2 teachers + 1 caregiver per class;
        # areas (check): no verified 建标175-2016 text; no national per-child funds norm
        ResourceNorm("kindergarten", (7.0, 7.0, 7.0), 3.0, 100_000, (3, 6, 9, 12),
                     (9.0, 9.0, 9.0, 9.0), (15.0, 15.0, 15.0, 15.0)),
        # 中央编办发〔2014〕72号: the urban 1:19 for all; 建标102-2002 table 4-1; 国发〔2015〕67号
        ResourceNorm("primary", (19.0, 19.0, 19.0), 1.7, 200, (12, 18, 24, 30),
                     (10.0, 8.3, 7.9, 7.2), (22.0, 22.0, 22.0, 22.0), 600.0, 200.0, 100),
        ResourceNorm("junior", (13.5, 13.5, 13.5), 3.0, 300, (12, 18, 24, 30),
                     (11.4, 10.1, 9.8, 9.0), (24.0, 24.0, 24.0, 24.0), 800.0, 200.0, 100),
        ResourceNorm("senior", (12.5, 12.5, 12.5), 3.5, 300, (18, 24, 30, 36),
                     (10.4, 10.0, 9.2, 8.9), (30.0, 30.0, 30.0, 30.0), 500.0),
    )


@dataclass(frozen=True)
class LevelNorm:
    """Norms of one level.

    Attributes
    ----------
    level : str
        ``kindergarten``, ``primary``, ``junior`` or ``senior``.
    ages : tuple of int
        Single years of age enrolled in each grade (years), in grade order.
    class_sizes : tuple of int
        Norm class size of each grade (students per class).
    service_radius_m : float
        Walking service radius (metres) of the life-circle norm.
    enrolment_rate : float
        Share of age-eligible children who need a seat (入园率 for kindergartens, gross
        enrolment for senior; 1.0 for compulsory levels).
    private_share : float
        Share of enrolled children attending private schools, which have no catchment; their
        seats are excluded from catchment and nearest allocation at compulsory levels.
    standard_classes : tuple of int
        Standard school sizes in classes (e.g. primary 12/18/24/30 = 2/3/4/5 轨).
    max_students : int
        Largest school size allowed (优质均衡: 2,000 students).
    """

    level: str
    ages: tuple[int, ...]
    class_sizes: tuple[int, ...]
    service_radius_m: float
    enrolment_rate: float = 1.0
    private_share: float = 0.0
    standard_classes: tuple[int, ...] = ()
    max_students: int = 2000

    @property
    def n_grades(self) -> int:
        """Number of grades (年级) of the level."""
        return len(self.ages)

    @property
    def public_rate(self) -> float:
        """Share of the resident children of the level's ages who go to the public schools
        planned here: ``enrolment_rate`` × (1 − ``private_share``).

        >>> LevelNorm("primary", (6,), (45,), 500.0, enrolment_rate=0.9, private_share=0.1
        ...           ).public_rate
        0.81
        """
        return self.enrolment_rate * (1.0 - self.private_share)

    @property
    def mean_class_size(self) -> float:
        """Mean norm class size over the grades (students per class)."""
        return sum(self.class_sizes) / len(self.class_sizes)

    def seats_for_classes(self, classes: float) -> float:
        """Seats (students) of a school with ``classes`` classes, spread evenly over grades."""
        return classes * self.mean_class_size

    def classes_for_seats(self, seats: float) -> int:
        """Classes a building of ``seats`` seats holds at norm class size (rounded)."""
        return int(round(seats / self.mean_class_size))


@dataclass(frozen=True)
class Norms:
    """All planning norms of a scenario.

    Build with :func:`default_norms` and change with :meth:`with_overrides`.
    """

    grade_system: str = "6+3"
    entry_age: int = 6
    bands: ClassBands = field(default_factory=ClassBands)
    levels: tuple[LevelNorm, ...] = ()
    resources: tuple[ResourceNorm, ...] = field(default_factory=_default_resources)

    def level(self, name: str) -> LevelNorm:
        """Norms of level ``name``."""
        return _by_level(self.levels, name)

    def resource(self, name: str) -> ResourceNorm:
        """Resource norms (posts, areas, funds, cost) of level ``name``."""
        return _by_level(self.resources, name)

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "[norms]") -> Norms:
        """Return norms with the values of a scenario's ``[norms]`` table applied.

        Parameters
        ----------
        overrides : mapping
            Top-level keys ``grade_system`` (``"6+3"``, ``"5+4"`` or ``"us"``), ``entry_age``, a
            ``bands`` table, a ``resources`` table of one table per level (``[norms.resources.
            primary] funds_per_student_yuan = 650``) and one table per level
            (``primary = {class_size = 40}``). A level's
            ``class_size`` may be one number or a list with one number per grade. Switching
            between the Chinese systems and ``"us"`` starts from that system's default norms
            (and entry age, unless ``entry_age`` is given).
        where : str
            Where the overrides come from, for error messages.

        Raises
        ------
        ValidationError
            Naming every unknown key or bad value.
        """
        problems: list[Problem] = []
        top = {k: v for k, v in overrides.items()
               if k not in LEVELS and k not in ("bands", "resources")}
        known_top = {"grade_system", "entry_age"}
        for key in sorted(set(top) - known_top):
            problems.append(
                Problem(where, f"unknown norm {key!r}; known: {', '.join(sorted(known_top))}, "
                        f"bands, resources, {', '.join(LEVELS)}")
            )
        grade_system = str(top.get("grade_system", self.grade_system))
        if grade_system not in GRADE_SYSTEMS:
            problems.append(Problem(where, f"grade_system {grade_system!r} unknown; use "
                                    f"{' or '.join(repr(g) for g in GRADE_SYSTEMS)}"))
            grade_system = self.grade_system
        default_entry = self.entry_age
        if (grade_system != self.grade_system
                and self.entry_age == _DEFAULT_ENTRY_AGE.get(self.grade_system)):
            default_entry = _DEFAULT_ENTRY_AGE[grade_system]  # e.g. "us": kindergarten at 5
        entry_age = top.get("entry_age", default_entry)
        if not isinstance(entry_age, int) or not 4 <= entry_age <= 8:
            problems.append(Problem(where, f"entry_age must be a whole number 4–8, got "
                                    f"{entry_age!r}"))
            entry_age = self.entry_age

        bands = self.bands
        if "bands" in overrides:
            bands, more = _replace_checked(bands, overrides["bands"], f"{where}.bands")
            problems += more
        resources, more = _resource_overrides(self.resources, overrides.get("resources", {}),
                                              f"{where}.resources")
        problems += more

        same_family = _NORM_FAMILY[grade_system] == _NORM_FAMILY[self.grade_system]
        base = _make_levels(grade_system, entry_age, self.levels if same_family else ())
        levels = []
        for lv in base:
            table = overrides.get(lv.level)
            if table is None:
                levels.append(lv)
                continue
            table = dict(table)
            if "class_size" in table:
                cs = table.pop("class_size")
                sizes = tuple(cs) if isinstance(cs, list | tuple) else (cs,) * lv.n_grades
                if len(sizes) != lv.n_grades or not all(
                    isinstance(s, int) and s > 0 for s in sizes
                ):
                    problems.append(Problem(
                        f"{where}.{lv.level}",
                        f"class_size must be a positive whole number or a list of "
                        f"{lv.n_grades} (one per grade), got {cs!r}"))
                else:
                    lv = dataclasses.replace(lv, class_sizes=sizes)
            if "ages" in table:
                problems.append(Problem(f"{where}.{lv.level}", "ages follow from grade_system "
                                        "and entry_age; set those instead"))
                table.pop("ages")
            lv, more = _replace_checked(lv, table, f"{where}.{lv.level}")
            problems += more
            levels.append(lv)
        ValidationError.raise_if(problems, "scenario norms")
        return dataclasses.replace(
            self, grade_system=grade_system, entry_age=entry_age, bands=bands, levels=tuple(levels),
            resources=resources)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written to ``summary.json`` (with the sources of US defaults)."""
        out = dataclasses.asdict(self)
        out.pop("resources")  # written with the plan that uses them
        if _NORM_FAMILY.get(self.grade_system) == "us":
            out["sources"] = dict(US_NORMS_SOURCES)
        return out


def _replace_checked(obj: Any, table: Mapping[str, Any], where: str) -> tuple[Any, list[Problem]]:
    """Replace fields of a frozen dataclass from ``table``, checking names and value types."""
    problems: list[Problem] = []
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields or key == "level":
            settable = sorted(k for k in fields if k != "level")
            problems.append(Problem(where, f"unknown norm {key!r}; known: {', '.join(settable)}"))
            continue
        current = getattr(obj, key)
        if isinstance(current, tuple):
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, int | float) and v > 0 for v in value
            ):
                problems.append(Problem(where, f"{key} must be a list of positive numbers, "
                                        f"got {value!r}"))
                continue
            value = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(Problem(where, f"{key} must be a number ≥ 0, got {value!r}"))
            continue
        elif key.endswith(("_rate", "_share")) and value > 1:
            problems.append(Problem(where, f"{key} is a share between 0 and 1, got {value!r}"))
            continue
        changes[key] = type(current)(value) if isinstance(current, int | float) else value
    return (dataclasses.replace(obj, **changes) if changes else obj), problems


def _by_level(items: tuple[Any, ...], name: str) -> Any:
    for item in items:
        if item.level == name:
            return item
    raise ValidationError(
        [f"unknown level {name!r}; expected one of {', '.join(LEVELS)}"], "norms"
    )


def _resource_overrides(current: tuple[ResourceNorm, ...], table: Any,
                        where: str) -> tuple[tuple[ResourceNorm, ...], list[Problem]]:
    """Apply ``[norms.resources]``: one table per level, checked like the level tables."""
    if not isinstance(table, Mapping):
        return current, [Problem(where, "must be a table of levels, e.g. "
                                 "[norms.resources.primary]")]
    problems = [Problem(where, f"unknown level {k!r}; expected one of {', '.join(LEVELS)}")
                for k in table if k not in LEVELS]
    out = []
    for rn in current:
        if rn.level in table:
            new, more = _replace_checked(rn, table[rn.level], f"{where}.{rn.level}")
            n = len(new.area_classes)
            if len(new.students_per_post) != len(LOCALITIES):
                more.append(Problem(f"{where}.{rn.level}", f"students_per_post needs "
                                    f"{len(LOCALITIES)} numbers ({', '.join(LOCALITIES)}), got "
                                    f"{list(new.students_per_post)}"))
            for key in ("building_m2_per_student", "land_m2_per_student"):
                if len(getattr(new, key)) != n:
                    more.append(Problem(f"{where}.{rn.level}", f"{key} needs one number per "
                                        f"size of area_classes ({n}), got "
                                        f"{list(getattr(new, key))}"))
            problems += more
            rn = new if not more else rn
        out.append(rn)
    return tuple(out), problems


def _make_levels(
    grade_system: str, entry_age: int, previous: tuple[LevelNorm, ...] = ()
) -> tuple[LevelNorm, ...]:
    """Level norms for a grade system, keeping non-age settings of ``previous`` levels."""
    counts = dict(zip(LEVELS, GRADE_SYSTEMS[grade_system], strict=True))
    first = {"kindergarten": entry_age - counts["kindergarten"], "primary": entry_age}
    first["junior"] = first["primary"] + counts["primary"]
    first["senior"] = first["junior"] + counts["junior"]
    ages = {lv: tuple(range(first[lv], first[lv] + counts[lv])) for lv in LEVELS}
    if _NORM_FAMILY[grade_system] == "us":
        defaults = _us_levels(ages)
    else:
        n_primary, n_junior = counts["primary"], counts["junior"]
        defaults = {
            # 幼儿园工作规程 art. 11: small 25, middle 30, large 35; ≤ 360 children, 3–12 classes
            "kindergarten": LevelNorm("kindergarten", ages["kindergarten"], (25, 30, 35), 300.0,
                                      enrolment_rate=0.90, standard_classes=(3, 6, 9, 12),
                                      max_students=360),
            # 建标102-2002: 45 per class; 12/18/24/30 classes; GB 50180: 500 m
            "primary": LevelNorm("primary", ages["primary"], (45,) * n_primary, 500.0,
                                 standard_classes=(12, 18, 24, 30)),
            # 建标102-2002: 50 per class; GB 50180: 1,000 m
            "junior": LevelNorm("junior", ages["junior"], (50,) * n_junior, 1000.0,
                                standard_classes=(12, 18, 24, 30)),
            # no national walking-radius norm for senior high; 3 km is a common local choice
            "senior": LevelNorm("senior", ages["senior"], (50,) * 3, 3000.0, enrolment_rate=0.92,
                                standard_classes=(24, 30, 36, 48), max_students=3000),
        }
    out = []
    for name in LEVELS:
        lv = defaults[name]
        old = next((p for p in previous if p.level == name), None)
        if old is not None:
            sizes = old.class_sizes
            if len(sizes) != len(lv.ages):  # grade count changed: keep the first grade's size
                sizes = (sizes[0],) * len(lv.ages)
            lv = dataclasses.replace(old, ages=lv.ages, class_sizes=sizes)
        out.append(lv)
    return tuple(out)


def _us_levels(ages: dict[str, tuple[int, ...]]) -> dict[str, LevelNorm]:
    """US defaults (see :data:`US_NORMS_SOURCES`), for the default grade counts 2/6/3/4."""

    def sizes(level: str, per_grade: tuple[int, ...]) -> tuple[int, ...]:
        n = len(ages[level])
        return per_grade if len(per_grade) == n else (per_grade[0],) * n

    return {
        "kindergarten": LevelNorm("kindergarten", ages["kindergarten"],
                                  sizes("kindergarten", (18, 18)), _MILE_M, enrolment_rate=0.5,
                                  max_students=360),
        "primary": LevelNorm("primary", ages["primary"],
                             sizes("primary", (18, 16, 17, 17, 24, 24)), _MILE_M,
                             max_students=1200),
        "junior": LevelNorm("junior", ages["junior"], sizes("junior", (24, 23, 23)),
                            1.5 * _MILE_M, max_students=2000),
        "senior": LevelNorm("senior", ages["senior"], sizes("senior", (26, 29, 29, 29)),
                            2.0 * _MILE_M, max_students=3000),
    }


def default_norms() -> Norms:
    """The national default norms (6+3 grade system, primary entry at age 6)."""
    return Norms(levels=_make_levels("6+3", 6))
