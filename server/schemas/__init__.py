"""Request and response schemas: they validate bodies and document the v2 API.

Request schemas validate field-level rules (rules that need the database or a plugin live in
the controllers). Response schemas only document: views render bodies with
``pulp2ng.representations`` and return them as responses, which flask-smorest passes through
untouched, so no key is ever dropped or reordered.
"""

from pulp2ng.server.schemas.common import (  # noqa: F401
    NULL,
    CallReportSchema,
    ErrorDetailSchema,
    ObjectIdSchema,
    PulpErrorSchema,
    TaskLinkSchema,
)
from pulp2ng.server.schemas.login import LoginCertificateSchema  # noqa: F401
from pulp2ng.server.schemas.repo_groups import (  # noqa: F401
    GroupDistributorSchema,
    GroupDistributorSpecSchema,
    GroupDistributorUpdateSchema,
    GroupPublishSchema,
    RepoGroupCreateSchema,
    RepoGroupMembersSchema,
    RepoGroupSchema,
    RepoGroupUpdateSchema,
)
from pulp2ng.server.schemas.repositories import (  # noqa: F401
    DistributorSchema,
    DistributorSpecSchema,
    DistributorUpdateSchema,
    HistoryEntrySchema,
    ImporterCreateSchema,
    ImporterSchema,
    ImporterUpdateSchema,
    PublishSchema,
    RepositoryCreateSchema,
    RepositorySchema,
    RepositorySearchSchema,
    RepositoryUpdateSchema,
    SearchSchema,
    SyncSchema,
    UnitSearchSchema,
)
from pulp2ng.server.schemas.schedules import (  # noqa: F401
    ContentScheduleCreateSchema,
    ContentScheduleUpdateSchema,
    ScheduleCreateSchema,
    ScheduleSchema,
    ScheduleUpdateSchema,
)
from pulp2ng.server.schemas.status import (  # noqa: F401
    ContentTypeSchema,
    PluginSchema,
    StatusSchema,
)
from pulp2ng.server.schemas.tasks import (  # noqa: F401
    TaskGroupSummarySchema,
    TaskSchema,
)
from pulp2ng.server.schemas.units import (  # noqa: F401
    ORPHAN_COUNTS,
    USER_METADATA,
    AssociateSchema,
    AssociationSchema,
    ImportUploadSchema,
    UnassociateSchema,
    UnitSchema,
)
from pulp2ng.server.schemas.uploads import UploadIdsSchema, UploadSchema  # noqa: F401
from pulp2ng.server.schemas.users import (  # noqa: F401
    PermissionQuerySchema,
    PermissionSchema,
    RoleCreateSchema,
    RoleGrantSchema,
    RoleMemberSchema,
    RoleSchema,
    RoleUpdateSchema,
    UserCreateSchema,
    UserGrantSchema,
    UserSchema,
    UserUpdateSchema,
)
from pulp2ng.server.schemas.events import (  # noqa: F401
    ListenerCreateSchema,
    ListenerSchema,
    ListenerUpdateSchema,
)
from pulp2ng.server.schemas.consumers import (  # noqa: F401
    AgentLeaseSchema,
    AgentPollSchema,
    AgentRequestSchema,
    AgentResultSchema,
    BindingSchema,
    BindSchema,
    ConsumerCreateSchema,
    ConsumerEventSchema,
    ConsumerSchema,
    ConsumerUpdateSchema,
    ContentActionSchema,
    RegistrationSchema,
    UnbindSchema,
)
from pulp2ng.server.schemas.consumer_groups import (  # noqa: F401
    ConsumerGroupCreateSchema,
    ConsumerGroupMembersSchema,
    ConsumerGroupSchema,
    ConsumerGroupUpdateSchema,
)
from pulp2ng.server.schemas.profiles import (  # noqa: F401
    ApplicabilityQuerySchema,
    ApplicabilitySchema,
    ConsumerRegenerationSchema,
    GroupCallReportSchema,
    ProfileCreateSchema,
    ProfileSchema,
    ProfileUpdateSchema,
    RepoRegenerationSchema,
)
