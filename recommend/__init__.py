"""medkg recommend: drug recommendations for diseases and patients.

One contract (:class:`Recommender`: ``fit`` / ``recommend`` / ``explain`` /
``save`` / :func:`load_recommender`), recommenders chosen by name through
:func:`get_recommender` (``cf``, ``cf-svd``, ``content``, ``ppr``, ``metapath``,
``gnn``, ``hybrid`` and the ``popularity`` / ``random`` baselines), patients
with a safety filter, leakage-safe evaluation and write-back as
``(:Recommendation)`` nodes. Imports only ``graph_engine`` from the project.

Example:
    >>> from recommend import get_recommender
    >>> rec = get_recommender("hybrid", seed=0).fit(tables)
    >>> ids, scores = rec.recommend(["DOID:9352"], k=10)
"""

from recommend.base import (
    Explanation,
    PathContribution,
    Recommender,
    available,
    get_recommender,
    load_recommender,
    register,
)
from recommend.patients import (
    Patient,
    PatientRecommendation,
    SafetyIndex,
    read_patients,
    recommend_for_patient,
    synthetic_cohort,
    write_patients,
)

__all__ = [
    "Explanation",
    "PathContribution",
    "Patient",
    "PatientRecommendation",
    "Recommender",
    "SafetyIndex",
    "available",
    "get_recommender",
    "load_recommender",
    "read_patients",
    "recommend_for_patient",
    "register",
    "synthetic_cohort",
    "write_patients",
]
