"""Scenario ensembles (``schoolmap run SCENARIO --ensemble N``): member *k* is the scenario
with ``seed = seed + k`` whose births and migration are drawn from that seed; members run
serially or on Dask (see :mod:`schoolmap.run.distributed`), their forecasts give P10 / P50 /
P90 bands."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schoolmap.errors import SchoolmapError, ValidationError
from schoolmap.present.maps.province import (  # noqa: F401  (re-exported: the colours' old home)
    PROVINCE_SHORTFALL_BREAKS,
    PROVINCE_SHORTFALL_COLOURS,
    province_page,
)
from schoolmap.run.distributed import as_finished, call_task, error_text, with_keys
from schoolmap.run.scenario import Scenario, run_scenario

__all__ = [
    "EnsembleResult",
    "ensemble_bands",
    "member_scenario",
    "run_ensemble",
    "run_member",
]


def member_scenario(scenario: Scenario, member: int, base_births: float) -> Scenario:
    """Ensemble member ``member``: the scenario with ``seed + member`` and drawn births/migration.

    The member's seed draws, like one member of :func:`schoolmap.forecast.forecast_ensemble`,
    a lognormal factor per forecast year on births (coefficient of variation ``births_cv``)
    and a normal shift of net migration (``migration_sd``; one shift for the member, added to
    ``migration_change``, because a scenario's migration is one rate). The member has no
    in-process ensemble of its own.

    Parameters
    ----------
    scenario : Scenario
    member : int
        0 … N − 1.
    base_births : float
        Base year's age-0 residents of the district (the births trend starts there).
    """
    f = scenario.forecast
    seed = scenario.seed + member
    rng = np.random.default_rng(seed)
    years = scenario.horizon
    sigma = np.sqrt(np.log1p(f.births_cv ** 2))
    factor = rng.lognormal(-0.5 * sigma ** 2, sigma, years)
    shift = float(rng.normal(0.0, f.migration_sd))
    plain = dataclasses.replace(f, births_change=0.0).births_series(
        base_births, scenario.base_year, years)
    births = {scenario.base_year + t + 1: float(plain[t] * factor[t]) for t in range(years)}
    forecast = dataclasses.replace(f, births=births, ensemble=0,
                                   migration_change=f.migration_change + shift)
    return dataclasses.replace(scenario, seed=seed, forecast=forecast,
                               methods=scenario.methods[:1])


def run_member(scenario: Scenario, member: int) -> pd.DataFrame:
    """Run ensemble member ``member`` (see :func:`member_scenario`); its forecast table.

    Returns
    -------
    DataFrame
        ``forecast.csv`` of the member with ``member`` and ``seed`` columns in front.
    """
    from schoolmap.io.district import read_district
    from schoolmap.run.outputs import forecast_tables

    district = read_district(scenario.district, planning_crs=scenario.planning_crs,
                             coordinate_system=scenario.coordinate_system,
                             input_crs=scenario.input_crs)
    base_births = float(district.cells["age_0"].sum()) if "age_0" in district.cells else 0.0
    sc = member_scenario(scenario, member, base_births)
    result = run_scenario(sc, district)
    return with_keys(forecast_tables(result)["forecast.csv"], member=member, seed=sc.seed)


def ensemble_bands(members: pd.DataFrame) -> pd.DataFrame:
    """P10 / P50 / P90 over members of demand and seats short, per level and year."""
    cols = ["level", "year"]
    out = []
    for name in ("demand", "shortfall_at_schools", "enrolled"):
        q = members.groupby(cols, sort=False)[name].quantile([0.1, 0.5, 0.9]).unstack()
        q.columns = [f"{name}_p10", f"{name}_p50", f"{name}_p90"]
        out.append(q)
    bands = pd.concat(out, axis=1).reset_index()
    bands.insert(2, "members", members.groupby(cols, sort=False).size().to_numpy())
    return bands


@dataclass
class EnsembleResult:
    """Members' forecast tables and their bands, and members that failed."""

    members: pd.DataFrame
    bands: pd.DataFrame
    failures: list[dict[str, Any]]


def run_ensemble(
    scenario: Scenario,
    n_members: int,
    client: Any | None = None,
    *,
    on_done: Callable[[int, str | None], None] | None = None,
) -> EnsembleResult:
    """Run ``n_members`` members (seeds ``seed`` … ``seed + n − 1``) serially or on Dask."""
    if n_members < 1:
        raise ValidationError([f"--ensemble must be ≥ 1 member, got {n_members}"], "ensemble")
    done = on_done or (lambda _m, _e: None)
    tables: dict[int, pd.DataFrame] = {}
    failures: dict[int, str] = {}
    if client is None:
        for m in range(n_members):
            try:
                tables[m] = run_member(scenario, m)
            except Exception as exc:
                failures[m] = error_text(exc)
            done(m, failures.get(m))
    else:
        run_id = uuid.uuid4().hex[:8]
        futures = [client.submit(call_task, run_member, scenario, m, retries=1, pure=False,
                                 key=f"schoolmap-member-{scenario.name}-{m}-{run_id}")
                   for m in range(n_members)]
        index = {f.key: m for m, f in enumerate(futures)}
        for m, value, error in as_finished(futures, index):
            if error is None:
                tables[m] = value
            else:
                failures[m] = error
            done(m, error)
    if not tables:
        first = min(failures)
        raise SchoolmapError(f"every ensemble member failed; member {first}: {failures[first]}")
    members = pd.concat([tables[m] for m in sorted(tables)], ignore_index=True)
    return EnsembleResult(members, ensemble_bands(members),
                          [{"member": m, "seed": scenario.seed + m, "error": e}
                           for m, e in sorted(failures.items())])
