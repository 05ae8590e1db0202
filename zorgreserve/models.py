"""Every model module, imported in one place so the metadata is complete.

Alembic's autogenerate, ``create_all`` in tests and the schema-drift test all
rely on this list; a new domain module adds its models here.
"""

from zorgreserve.accounts import models as accounts_models  # noqa: F401
from zorgreserve.audit import models as audit_models  # noqa: F401
from zorgreserve.availability import models as availability_models  # noqa: F401
from zorgreserve.callups import models as callups_models  # noqa: F401
from zorgreserve.deployments import models as deployments_models  # noqa: F401
from zorgreserve.institutions import models as institutions_models  # noqa: F401
from zorgreserve.jobs import heartbeat as jobs_heartbeat  # noqa: F401
from zorgreserve.jobs import models as jobs_models  # noqa: F401
from zorgreserve.reference import models as reference_models  # noqa: F401
from zorgreserve.reservists import models as reservists_models  # noqa: F401
from zorgreserve.shifts import models as shifts_models  # noqa: F401
from zorgreserve.surge import models as surge_models  # noqa: F401
