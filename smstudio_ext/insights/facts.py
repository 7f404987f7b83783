"""What the checks, tags and costs read: AWS answers about one owner, cached and fetched concurrently.

``Facts`` is a thin view over the engine's ``TtlCache`` for one ``Subject`` (a domain, and
optionally a user profile or space and this app). Every method returns a cached answer or loads
it once (single-flight) on the engine's AWS thread pool; ``prefetch()`` starts every independent
call at once so a cold response waits for the slowest call, not their sum.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from .. import clock
from ..apps import AppInfo, iter_apps
from ..aws import AwsClients, call, paginate
from ..context import StudioContext
from ..errors import SmStudioError
from ..studio_settings import EffectiveSettings, resolve, space_sharing
from .cache import TtlCache
from .config import Insights
from .tags import domain_arn, owner_arn

if TYPE_CHECKING:
    from .pricing import Price, PriceBook

Provider = Callable[[], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Subject:
    """Whose insights: a domain, and optionally an owner (profile or space) and this app."""

    domain_id: str
    region: str
    owner_kind: str | None = None  # "user-profile" | "space" | None (domain only)
    owner_name: str | None = None
    app_type: str | None = None
    app_name: str | None = None
    account_id: str | None = None
    partition: str = "aws"
    caller_user_id: str | None = None
    app_arn: str | None = None  # this app's ARN (from the metadata): its tags are prefetched
    profile_hint: str | None = None  # a space's owner profile as the metadata names it

    def __post_init__(self) -> None:
        if self.owner_kind not in (None, "user-profile", "space"):
            raise ValueError("owner_kind must be 'user-profile', 'space' or None")
        if bool(self.owner_kind) != bool(self.owner_name):
            raise ValueError("owner_kind and owner_name go together")

    @classmethod
    def from_context(cls, ctx: StudioContext, caller_user_id: str | None = None) -> Subject | None:
        """None when not in Studio (local mode) or when the metadata names no domain."""
        if not ctx.in_studio or not ctx.domain_id or ctx.owner_kind == "local":
            return None
        return cls(
            domain_id=ctx.domain_id,
            region=ctx.region or "us-east-1",
            owner_kind=ctx.owner_kind,
            owner_name=ctx.owner_name,
            app_type=ctx.app_type,
            app_name=ctx.app_name,
            account_id=ctx.account_id,
            partition=ctx.partition,
            caller_user_id=caller_user_id or None,
            app_arn=ctx.resource_arn if ctx.resource_arn and ":app/" in ctx.resource_arn else None,
            profile_hint=ctx.user_profile_name if ctx.owner_kind == "space" else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Facts:
    """Cached AWS answers for one subject. Methods raise typed errors (``SmStudioError``)."""

    def __init__(
        self,
        clients: AwsClients,
        config: Insights,
        subject: Subject,
        cache: TtlCache,
        executor: Executor,
        *,
        prices: PriceBook | None = None,
        providers: dict[str, Provider] | None = None,
        max_age: float | None = None,
        fetched_at: dict[Any, datetime] | None = None,
    ) -> None:
        self.clients = clients
        self.config = config
        self.subject = subject
        self.cache = cache
        self.executor = executor
        self.prices = prices
        self.providers = providers or {}
        self.max_age = max_age
        self.fetched_at = fetched_at if fetched_at is not None else {}
        self.used: dict[str, set[Any]] = {}
        self._part = threading.local()
        self._started = cache.now()
        self._effective: EffectiveSettings | None = None

    # -- plumbing -----------------------------------------------------------------------------

    def for_part(self, name: str) -> None:
        """Record which cache keys the calling thread's part reads (for its ``as_of``)."""
        self._part.name = name

    def _future(
        self, key: Any, loader: Callable[[], Any], ttl: float, *, refreshable: bool = True
    ) -> Future[Any]:
        part = getattr(self._part, "name", None)
        if part:
            self.used.setdefault(part, set()).add(key)

        def load() -> Any:
            value = loader()
            self.fetched_at[key] = clock.utcnow()
            return value

        # a refresh reloads what is older than the floor, but only once per response
        refreshing = refreshable and self.max_age is not None
        return self.cache.submit(
            key,
            load,
            ttl,
            executor=self.executor,
            max_age=self.max_age if refreshing else None,
            fresh_after=self._started if refreshing else None,
        )

    def _get(self, key: Any, loader: Callable[[], Any], ttl: float, **kw: Any) -> Any:
        return self._future(key, loader, ttl, **kw).result()

    def oldest(self, part: str) -> datetime | None:
        times = [self.fetched_at[k] for k in self.used.get(part, ()) if k in self.fetched_at]
        return min(times) if times else None

    @property
    def sm(self) -> Any:
        return self.clients.client("sagemaker")

    def prime(
        self,
        *,
        domain: dict[str, Any] | None = None,
        apps: list[AppInfo] | None = None,
        ttl: float | None = None,
    ) -> None:
        """Seed answers the caller already has (an admin audit lists the apps of a whole domain
        with one paginated ``ListApps`` and describes the domain once): ``domain`` is the
        ``DescribeDomain`` answer, ``apps`` the owner's live apps. Cached for ``ttl`` seconds
        (default: the usual TTL of that answer); nothing is asked of AWS."""
        if domain is not None:
            key, _, default_ttl = self._domain_args()
            self._seed(key, domain, default_ttl if ttl is None else ttl)
        if apps is not None and self.subject.owner_kind:
            key, _, default_ttl = self._apps_args()
            self._seed(key, list(apps), default_ttl if ttl is None else ttl)

    def _seed(self, key: Any, value: Any, ttl: float) -> None:
        self.cache.submit(key, lambda: value, ttl, max_age=0)  # replaces what was cached
        self.fetched_at[key] = clock.utcnow()

    # -- prefetch -----------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Start every call that depends on nothing else, all at once (non-blocking)."""
        self._future(*self._domain_args())
        if self.subject.owner_kind:
            self._future(*self._owner_args())
            self._future(*self._apps_args())
        if self.subject.account_id:
            for arn in self._static_arns():
                self._future(*self._tags_args(arn))
        if self.subject.profile_hint:  # a private space's settings include its owner's
            self._future(*self._profile_args(self.subject.profile_hint))

    def _static_arns(self) -> list[str]:
        """ARNs known without asking AWS, so their tags can be fetched in the first round."""
        s = self.subject
        arns = [self.domain_arn()]
        if s.owner_kind:
            arns.append(self.owner_arn())
        if s.profile_hint:
            arns.append(self.profile_arn(s.profile_hint))
        if s.app_arn:
            arns.append(s.app_arn)
        return arns

    # -- domain and owner ---------------------------------------------------------------------

    def _domain_args(self) -> tuple[Any, Callable[[], Any], float]:
        domain_id = self.subject.domain_id

        def load() -> dict[str, Any]:
            return call(self.sm, "DescribeDomain", resource=domain_id, DomainId=domain_id)

        return ("DescribeDomain", domain_id), load, self.config.guardrails_ttl_seconds

    def domain(self) -> dict[str, Any]:
        return self._get(*self._domain_args())

    def account_id(self) -> str:
        if self.subject.account_id:
            return self.subject.account_id
        return str(self.domain()["DomainArn"]).split(":")[4]

    def domain_arn(self) -> str:
        s = self.subject
        if s.account_id:
            return domain_arn(s.partition, s.region, s.account_id, s.domain_id)
        return str(self.domain()["DomainArn"])

    def _owner_args(self) -> tuple[Any, Callable[[], Any], float]:
        s = self.subject
        op = "DescribeSpace" if s.owner_kind == "space" else "DescribeUserProfile"
        name_param = "SpaceName" if s.owner_kind == "space" else "UserProfileName"

        def load() -> dict[str, Any]:
            return call(
                self.sm,
                op,
                resource=s.owner_name,
                DomainId=s.domain_id,
                **{name_param: s.owner_name},
            )

        return (op, s.domain_id, s.owner_name), load, self.config.guardrails_ttl_seconds

    def owner(self) -> dict[str, Any] | None:
        if not self.subject.owner_kind:
            return None
        return self._get(*self._owner_args())

    def owner_settings(self) -> dict[str, Any]:
        owner = self.owner() or {}
        return owner.get("SpaceSettings") or owner.get("UserSettings") or {}

    def owner_arn(self) -> str:
        s = self.subject
        assert s.owner_kind and s.owner_name
        account = s.account_id or self.account_id()
        return owner_arn(s.partition, s.region, account, s.domain_id, s.owner_kind, s.owner_name)

    def profile_arn(self, name: str) -> str:
        s = self.subject
        return owner_arn(
            s.partition, s.region, self.account_id(), s.domain_id, "user-profile", name
        )

    def sso_user(self) -> str | None:
        """The IdP user name of the owner's profile in an SSO domain (None in IAM domains)."""
        if not self.subject.owner_kind or self.domain().get("AuthMode") != "SSO":
            return None
        if self.subject.owner_kind == "user-profile":
            profile = self.owner() or {}
        else:
            name = self.space_owner_profile()
            if not name:
                return None
            profile = self.profile(name)
        return profile.get("SingleSignOnUserValue") or None

    def _profile_args(self, name: str) -> tuple[Any, Callable[[], Any], float]:
        domain_id = self.subject.domain_id

        def load() -> dict[str, Any]:
            return call(
                self.sm,
                "DescribeUserProfile",
                resource=name,
                DomainId=domain_id,
                UserProfileName=name,
            )

        return ("DescribeUserProfile", domain_id, name), load, self.config.guardrails_ttl_seconds

    def profile(self, name: str) -> dict[str, Any]:
        """``DescribeUserProfile`` of any profile of the domain (the same cache entry as when
        that profile is the subject: an audit describes each profile once)."""
        return self._get(*self._profile_args(name))

    def effective_settings(self) -> EffectiveSettings:
        """The settings that apply to the subject, resolved the service's way
        (``studio_settings.resolve``): a private space includes its owner's profile (one more
        cached ``DescribeUserProfile``), a shared space the domain's ``DefaultSpaceSettings``.
        Carries the botocore model the answers were parsed with, so members an old botocore
        drops are reported as unreadable rather than absent. Resolved once per ``Facts`` (one
        response): several checks read it."""
        if self._effective is not None:
            return self._effective
        s = self.subject
        owner = self.owner()  # asked first: a denied Describe* names the owner's action
        domain = self.domain() or {}
        owner_profile = None
        app_type = s.app_type
        if s.owner_kind == "space" and owner is not None:
            profile = (owner.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
            if space_sharing(owner) == "Private" and profile:
                owner_profile = self.profile(profile)
            if not (owner.get("SpaceSettings") or {}).get("AppType") and not app_type:
                types = [a.app_type for a in self.apps()]
                app_type = types[0] if types else None
        self._effective = resolve(
            domain,
            owner_kind=s.owner_kind,
            owner=owner,
            owner_profile=owner_profile,
            app_type=app_type,
            service_model=self.sm.meta.service_model,
        )
        return self._effective

    def space_owner_profile(self) -> str | None:
        if self.subject.owner_kind != "space":
            return None
        owner = self.owner() or {}
        return (owner.get("OwnershipSettings") or {}).get("OwnerUserProfileName")

    # -- apps ---------------------------------------------------------------------------------

    def _apps_args(self) -> tuple[Any, Callable[[], Any], float]:
        s = self.subject

        def load() -> list[AppInfo]:
            return list(
                iter_apps(
                    self.clients,
                    s.domain_id,
                    user_profile_name=s.owner_name if s.owner_kind == "user-profile" else None,
                    space_name=s.owner_name if s.owner_kind == "space" else None,
                )
            )

        return (
            ("ListApps", s.domain_id, s.owner_kind, s.owner_name),
            load,
            self.config.apps_ttl_seconds,
        )

    def apps(self) -> list[AppInfo]:
        """The owner's live apps (InService/Pending); [] for a domain-only subject."""
        if not self.subject.owner_kind:
            return []
        apps = self._get(*self._apps_args())
        if self.subject.owner_kind == "user-profile":
            apps = [a for a in apps if not a.space_name]  # ListApps by profile may list its spaces'
        return apps

    def owner_app_types(self) -> set[str]:
        return {a.app_type for a in self.apps()}

    # -- tags -----------------------------------------------------------------------------------

    def _tags_args(self, arn: str) -> tuple[Any, Callable[[], Any], float]:
        def load() -> list[dict[str, str]]:
            fetch = functools.partial(call, self.sm, "ListTags", arn)
            return list(paginate(fetch, "Tags", ResourceArn=arn, MaxResults=100))

        return ("ListTags", arn), load, self.config.tags_ttl_seconds

    def tags(self, arn: str) -> list[dict[str, str]]:
        return self._get(*self._tags_args(arn))

    def tags_many(self, arns: Iterable[str]) -> dict[str, list[dict[str, str]] | SmStudioError]:
        """Tags of several resources, fetched concurrently; failures come back as the error."""
        futures = {arn: self._future(*self._tags_args(arn)) for arn in dict.fromkeys(arns)}
        out: dict[str, Any] = {}
        for arn, fut in futures.items():
            exc = fut.exception()
            if exc is not None and not isinstance(exc, SmStudioError):
                raise exc
            out[arn] = exc if exc is not None else fut.result()
        return out

    # -- images -------------------------------------------------------------------------------

    def app_image_configs(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        def args(name: str) -> tuple[Any, Callable[[], Any], float]:
            def load() -> dict[str, Any]:
                return call(
                    self.sm, "DescribeAppImageConfig", resource=name, AppImageConfigName=name
                )

            return ("DescribeAppImageConfig", name), load, self.config.guardrails_ttl_seconds

        futures = {name: self._future(*args(name)) for name in names}
        return {name: fut.result() for name, fut in futures.items()}

    # -- prices and billed costs --------------------------------------------------------------

    def prices_for(self, instance_types: Iterable[str | None]) -> dict[str, Price]:
        assert self.prices is not None
        book = self.prices
        # the admin price file's version is part of the key: an edit is seen at the next
        # response, while Pricing API answers stay cached for a day
        stamp = book.file_stamp()
        futures = {
            t: self._future(
                ("price", book.region, t, stamp),
                functools.partial(book.price, t),
                24 * 3600.0,
                refreshable=False,
            )
            for t in dict.fromkeys(instance_types)
            if t
        }
        return {t: fut.result() for t, fut in futures.items()}

    def billed_future(self, tag_key: str, tag_value: str) -> Future[Any]:
        from .costs import fetch_billed

        def load() -> dict[str, Any]:
            return fetch_billed(
                self.clients, tag_key, tag_value, clock.utcnow(), region=self.subject.region
            )

        # Each request is billed: a refresh never bypasses this cache.
        return self._future(
            ("GetCostAndUsage", tag_key, tag_value),
            load,
            self.config.billed_ttl_seconds,
            refreshable=False,
        )

    # -- providers (other engines in the same server) ----------------------------------------

    def _provided(self, name: str) -> dict[str, Any] | None:
        provider = self.providers.get(name)
        if provider is None:
            return None
        summary = provider()
        return dict(summary) if summary is not None else None

    def idle_summary(self) -> dict[str, Any] | None:
        """``{"enabled", "timeout_minutes", "dry_run", "max_timeout_minutes"}`` or None."""
        return self._provided("idle")

    def backup_summary(self) -> dict[str, Any] | None:
        """``{"configured", "bucket", "last_success", "last_snapshot_id"}`` or None."""
        return self._provided("backup")
