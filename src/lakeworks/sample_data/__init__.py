"""Real data sets shipped with Lakeworks for its tutorials and demo, each with its licence.

``credit-card-default``: UCI "default of credit card clients" (CC BY 4.0), the production
pipeline tutorial's data. ``bike-rentals-daily``: Capital Bikeshare daily rentals 2011-2012
from UCI "Bike Sharing" (CC BY 4.0), the Synapse lab's data. ``ibm-hr-attrition``: IBM's
fictional HR attrition sample (as redistributed in R's ``modeldata``), the AutoML tests' and
benchmark's binary classification data. Each folder's README gives origin, licence and
attribution.
"""

from __future__ import annotations

from pathlib import Path

from lakeworks.errors import NotFoundError

_ROOT = Path(__file__).resolve().parent

FILES = {
    "credit-card-default": "default_of_credit_card_clients.csv",
    "bike-rentals-daily": "bike-rentals-daily.csv",
    "ibm-hr-attrition": "ibm-hr-attrition.csv",
}


def dataset_path(name: str) -> Path:
    """The path of a shipped data file.

    Example:
        >>> dataset_path("credit-card-default").name
        'default_of_credit_card_clients.csv'
    """
    if name not in FILES:
        raise NotFoundError(
            f"no shipped data set '{name}'; shipped: {', '.join(sorted(FILES))}"
        )
    return _ROOT / name / FILES[name]
