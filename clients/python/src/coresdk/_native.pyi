"""Type stubs of ``coresdk._native``, the PyO3 extension built from ``native/python`` (the engine in this process)."""

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypedDict

from typing_extensions import Self

from .results import AuthorizeResult, Decision, IsAllowedResult

class ReloadEvent(TypedDict, total=False):
    """What a reload listener receives."""

    kind: Literal["reloaded", "failed"]
    revision: str
    previous: str
    code: str
    message: str
    file: str
    line: int
    column: int

class FastPathPlan(TypedDict):
    """How one rule query is evaluated on the serving revision."""

    evaluator: Literal["tree", "interpreter"]
    reason: str | None
    guards: int
    indexed: bool

class FastPathStats(TypedDict):
    """Evaluations answered by the fast path (``vm``) and by the interpreter."""

    vm: int
    interpreter: int

class DecisionCacheStats(TypedDict):
    """Decision cache counters of the serving revision."""

    enabled: bool
    hits: int
    misses: int

class KeyStatus(TypedDict):
    """The token key source's state (no key material)."""

    source: str
    keys: int
    fetched_at_ms: float | None
    from_offline_cache: bool
    last_error: str | None
    offline_cache: str
    offline_cache_rejections: int
    refreshes_ok: int
    refreshes_failed: int

Setting = str | int | bool | Sequence[str] | None
"""A ``[sdk]`` setting's value, as in ``coresdk.toml``."""

class Engine:
    """The CoreSDK engine in this process: Rego decisions, token verification and PII masking.

    The GIL is released while the engine works; one engine serves any number of threads.
    """

    def __init__(
        self,
        *,
        policy_dir: str | None = None,
        policies: Mapping[str, str] | None = None,
        data: object = None,
        from_env: bool = False,
        **settings: Setting,
    ) -> None:
        """Loads and compiles a bundle; ``settings`` are the ``[sdk]`` keys of ``coresdk.toml``."""

    @staticmethod
    def from_env(**settings: Setting) -> Engine:
        """An engine configured by ``coresdk.toml`` and ``CORESDK_*``; ``settings`` win."""

    @property
    def revision(self) -> str:
        """The policy revision now serving."""

    @property
    def closed(self) -> bool:
        """Whether the engine is closed (or was made before ``fork()``)."""

    def evaluate_policy(self, query: str, input: object = None) -> Decision:
        """Evaluates ``query`` with ``input``; raises :class:`~coresdk.CoreSDKError`."""

    def is_allowed(self, query: str, input: object = None) -> bool:
        """True only when ``query`` is exactly ``true``; any error is False."""

    def decide(self, query: str, input: object = None) -> IsAllowedResult:
        """The allow-style verdict with its reason; never raises."""

    def authorize(self, token: str, query: str | None = None, input: Mapping[str, Any] | None = None) -> AuthorizeResult:
        """Verifies ``token`` and evaluates ``query`` with the claims as ``input.claims``; never raises for a verdict."""

    def evaluate_json(self, query: str, input_json: str) -> tuple[bool, str, str]:
        """``(defined, value_json, revision)`` for JSON text input (``""``: none); raises :class:`~coresdk.CoreSDKError`."""

    def authorize_json(self, token: str, query: str, input_json: str) -> tuple[bool, str, str, str, str]:
        """``(allowed, reason, claims_json, decision_json, revision)``; raises for what the sidecar answers with an error."""

    def verify_token_json(self, token: str) -> str:
        """The verified claims as JSON text; raises :class:`~coresdk.CoreSDKError`."""

    def verify_token(self, token: str) -> dict[str, Any]:
        """Verifies a bearer token and returns its claims; raises :class:`~coresdk.CoreSDKError`."""

    def mask_pii(self, values: Sequence[str]) -> list[str]:
        """Masks personal data and secrets in each string."""

    def reload(self) -> str:
        """Re-reads and recompiles the bundle; returns the revision now serving."""

    def on_reload(self, listener: Callable[[ReloadEvent], object]) -> Callable[[], None]:
        """Calls ``listener`` after every reload; returns a function that removes it."""

    def fast_path_plan(self, query: str) -> FastPathPlan:
        """Which evaluator answers rule query ``query``, and why."""

    def fast_path_stats(self) -> FastPathStats:
        """How the serving revision answered its evaluations."""

    def decision_cache_stats(self) -> DecisionCacheStats:
        """Decision cache counters of the serving revision."""

    def key_status(self) -> KeyStatus | None:
        """The key source's state when tokens are configured."""

    def close(self) -> None:
        """Stops the watcher and refuses further calls (``ERR_ENGINE_CLOSED``); idempotent."""

    def __enter__(self) -> Self:
        """Context-manager use: the engine itself."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Closes the engine."""

def sidecar_main(argv: list[str]) -> int:
    """Runs the ``coresdk-sidecar`` program with ``argv`` (program name first); returns its exit code."""
