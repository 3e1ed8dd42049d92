"""The FastAPI application: routes, authentication and error answers, thin over Service.

`create_app` is the factory uvicorn calls in every worker; all state lives in the store, so any
number of workers or hosts can answer the same users.
"""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from claudechat.errors import ClaudechatError, UsageError
from claudechat.server import ServeOptions, heap, warm
from claudechat.server.described import BODY_CHECKS, Description, end_description_with_newline
from claudechat.server.errors import describe, error_body
from claudechat.server.journal_drain import draining
from claudechat.server.middleware import AccessLog, Authenticate, RequestGuard
from claudechat.server.responses import (
    SAVING_AT_SHUTDOWN_SECONDS,
    Json,
    failure,
    name_conversation,
    reply_body,
    shutting_down,
)
from claudechat.server.service import ChatRequest, Service
from claudechat.server.sse import EventStream, stream_turn
from claudechat.server.turns import Failed, Turn, Turns

MAX_OFFSET = 100_000  # a page of /conversations reads the rows before it too
# On /get_conversation's answer (HEAD's too) when it is this server's copy, maybe behind.
STALE = "Claudechat-Stale"
THREADS = 200  # blocking handlers (store reads) at once; /chat turns run on threads of their own


class ChatBody(BaseModel):
    # A misspelt field (conversationId) would otherwise be dropped, and the turn land in the
    # current conversation instead of the one meant.
    model_config = ConfigDict(extra="forbid")

    user_input: str = Field(description="Your message to Claude.")
    conversation_name: str | None = None
    conversation_id: str | None = Field(None, description="Full id or unique prefix.")
    model: str | None = None
    system: str | None = None
    # Strict: "stream": "yes" (or "no") was taken for true.
    stream: StrictBool = Field(
        False, description="Answer as server-sent events; given, it wins over Accept."
    )

    @field_validator("user_input")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("user_input is empty")
        return value


class NewChatBody(BaseModel):
    # Fields /new_chat does not know were dropped: a name or model given here was lost.
    model_config = ConfigDict(extra="forbid")

    conversation_name: str | None = None
    model: str | None = None
    system: str | None = None


class ConversationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(None, description="Full id or unique prefix.")


def create_app() -> FastAPI:
    """uvicorn's factory: settings, store and Claude client for this worker process."""
    from claudechat.settings import load_settings

    # The event loop shares the GIL with the turns' threads; at the default 5 ms switch
    # interval every hand-over between them can cost a request 5 ms of waiting.
    sys.setswitchinterval(0.0005)
    settings = load_settings()
    options = ServeOptions.from_env()
    return build_app(Service.from_settings(settings, options.push_quiet_seconds), options)


def build_app(service: Service, options: ServeOptions) -> FastAPI:
    turns = Turns()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await anyio.to_thread.run_sync(service.connect)
        await anyio.to_thread.run_sync(warm.warm_up, service)
        heap.settle()
        async with draining(service, lambda: turns.busy() | service.pushes.conversations()):
            yield
        # uvicorn has waited for requests in flight (up to the graceful timeout) and cancelled
        # the rest: their turns save what arrived, marked interrupted, and their handlers
        # answer (bounded by SAVING_AT_SHUTDOWN_SECONDS) before the event loop closes.
        await turns.stop_all(SAVING_AT_SHUTDOWN_SECONDS + 1)
        await anyio.to_thread.run_sync(service.pushes.flush, SAVING_AT_SHUTDOWN_SECONDS)
        # Closed, not left to the process's end, which no longer tears down every object: an
        # SQLite database is checkpointed (its -wal and -shm files go); PostgreSQL is told.
        from claudechat.storage import close_within

        # In a thread of its own, not the pool's: that one would be waited for at the end.
        await anyio.to_thread.run_sync(close_within, service.store, 2.0)

    app = FastAPI(
        title="claudechat",
        summary="Chat with Claude over HTTP; the same conversations as the claudechat CLI.",
        default_response_class=Json,
        lifespan=lifespan,
        # /chat/ answered an empty 307 to /chat, which curl follows as a GET (405).
        redirect_slashes=False,
    )
    _install_errors(app)
    end_description_with_newline(app)
    described = Description(options.no_auth)

    async def caller(  # no I/O: not worth a thread of the pool
        request: Request,
        # Declared for the OpenAPI description; the token itself is checked by Authenticate.
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(described.bearer())],
    ) -> str:
        if options.no_auth:
            request.state.user = service.settings.user
        user = getattr(request.state, "user", None)
        if user is None:  # not a route Authenticate guards: a defect, refused all the same
            raise HTTPException(401, "a valid bearer token is required")
        return str(user)

    User = Annotated[str, Depends(caller)]

    @app.post(
        "/chat",
        summary="One turn: your message and Claude's reply, saved.",
        responses=described.chat(),
    )
    async def chat(
        request: Request,
        body: ChatBody,
        user: User,
        conversation_id: Annotated[
            str | None, Query(description="As conversation_id in the body (either, or both alike).")
        ] = None,
    ) -> Response:
        # The query string as /get_conversation takes it: it was ignored, and the turn went to
        # the current conversation instead.
        reference = _one_id(conversation_id, body.conversation_id)
        wanted = ChatRequest(
            body.user_input, reference, body.conversation_name, body.model, body.system
        )
        wanted.check()
        # An explicit "stream": false wins over an Accept header the caller's HTTP library may
        # have sent unasked: it used to stream all the same.
        if "stream" in body.model_fields_set:
            stream = body.stream
        else:
            stream = wants_events(request.headers.get("accept", ""))
        turn = Turn(service, user, wanted, stream)
        turns.add(turn.start())
        answer: Response | None = None
        try:
            answer = await (stream_turn(request, turn) if stream else _json_answer(request, turn))
            return answer
        finally:
            if not isinstance(answer, EventStream):  # which says so when its stream ends
                turn.answered.set()

    @app.post(
        "/new_chat",
        summary="Start a new conversation; a bare /chat continues it.",
        responses=described.errors(*BODY_CHECKS, 401, 503),
    )
    def new_chat(
        user: User, request: Request, body: Annotated[NewChatBody | None, Body()] = None
    ) -> Any:
        wanted = body or NewChatBody()
        conversation_id = service.new_chat(
            user,
            ChatRequest(
                "",  # no message: only the conversation's settings
                conversation_name=wanted.conversation_name,
                model=wanted.model,
                system=wanted.system,
            ),
        )
        request.state.conversation_id = conversation_id
        return {"conversation_id": conversation_id}

    # GET or POST: the seed's README used POST, as its users still do.
    # HEAD wherever GET answers (load balancers probe with it); not described as an operation.
    @app.head("/get_conversation", include_in_schema=False)
    @app.get(
        "/get_conversation",
        summary="A conversation document.",
        description="While the store is down, this server's copy: `stale: true`, a "
        f"`notices` line and the `{STALE}: true` header say it may be older than the store's.",
        responses=described.errors(401, 404, 422, 500, 503),
    )
    def get_conversation(
        user: User,
        request: Request,
        conversation_id: Annotated[str, Query(description="Full id or unique prefix.")],
    ) -> Any:
        document, kept = service.document(user, conversation_id)
        request.state.conversation_id = document["id"]
        if kept is None or kept.current:
            return document
        # This server's copy, the store being down: it may lack turns other hosts saved.
        notice = kept.notice.for_callers
        return Json({**document, "stale": True, "notices": [notice]}, headers={STALE: "true"})

    @app.post(
        "/get_conversation",
        summary="A conversation document.",
        operation_id="post_get",
        responses=described.errors(*BODY_CHECKS, 401, 404, 500, 503),
    )
    def post_get_conversation(
        user: User,
        request: Request,
        conversation_id: Annotated[
            str | None, Query(description="Full id or unique prefix (or in the body).")
        ] = None,
        body: Annotated[ConversationBody | None, Body()] = None,
    ) -> Any:
        """The id in the query string, as the seed's README has it, or in a JSON body. While
        the store is down, this server's copy, marked as GET marks it."""
        wanted = _one_id(conversation_id, body.conversation_id if body else None)
        if not wanted:
            raise UsageError("give conversation_id, in the query string or the JSON body")
        return get_conversation(user, request, wanted)

    @app.head("/conversations", include_in_schema=False)
    @app.get(
        "/conversations",
        summary="Your conversations, newest first.",
        responses=described.errors(401, 422, 503),
    )
    def conversations(
        user: User,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Any:
        return service.listing(user, limit, offset)

    @app.delete(
        "/conversations/{conversation_id}",
        summary="Delete one of your conversations.",
        responses=described.errors(401, 404, 422, 500, 503),
    )
    def delete_conversation(user: User, request: Request, conversation_id: str) -> Any:
        answer = service.delete(user, conversation_id)
        request.state.conversation_id = answer["deleted"]
        return answer

    @app.head("/health", include_in_schema=False)
    @app.get("/health", summary="Whether the database and the blob store answer.")
    def health() -> Any:
        checks = service.health()
        healthy = all(value == "ok" for value in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **checks}
        return Json(body, 200 if healthy else 503)

    guarded = RequestGuard(app, options.max_body_bytes, options.body_seconds)
    # Load balancers probe health; the API's description and its docs pages are public.
    docs = (app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url)
    public = {"/health", *(path for path in docs if path)}
    if options.no_auth:
        return AccessLog(guarded, public, service.settings.user)  # type: ignore[return-value]
    authenticated = Authenticate(guarded, service.user_for, public)
    return AccessLog(authenticated, public)  # type: ignore[return-value]


async def _json_answer(request: Request, turn: Turn) -> Response:
    try:
        outcome = await _outcome_unless_gone(request, turn)
    except asyncio.CancelledError:
        # uvicorn's grace period ran out: the turn is stopped and saves what arrived.
        return await shutting_down(request, turn)
    if isinstance(outcome, Failed):
        return failure(request, outcome)
    return Json(reply_body(request, turn, outcome))


async def _outcome_unless_gone(request: Request, turn: Turn) -> Any:
    """Wait for the turn; a client that hangs up stops it (its partial reply is kept)."""
    watcher = asyncio.ensure_future(turn.stop_when_gone(request.receive))
    try:
        return await turn.outcome()
    finally:
        watcher.cancel()  # cancelled by shutdown: shutting_down() stops the turn


def _one_id(in_query: str | None, in_body: str | None) -> str | None:
    """A conversation_id given in the query string, the body, or both alike. An empty one is
    an id given (and not found): taken for none, a script whose id variable was empty wrote
    into the current conversation."""
    given = {value for value in (in_query, in_body) if value is not None}
    if len(given) > 1:
        raise UsageError("conversation_id differs between the query string and the body")
    return given.pop() if given else None


def wants_events(accept: str) -> bool:
    """Whether an Accept header prefers server-sent events to JSON (q=0 refuses a type)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = weight
    events = weights.get("text/event-stream", 0.0)
    return events > 0 and events >= weights.get("application/json", 0.0)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Json:
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            return Json(error_body("malformed_json", "the body is not valid JSON"), 400)
        details = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg", "")} for error in errors
        ]
        return Json(error_body("invalid_request", _summary(details), details=details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Json:
        # 400: a body FastAPI could not parse (nested too deep) before validation.
        kinds = {
            400: "malformed_json",
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
        }
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        elif exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        message = _unparsed_body(exc) or str(exc.detail)
        body = error_body(kinds.get(exc.status_code, "error"), message)
        return Json(body, exc.status_code, headers)

    @app.exception_handler(ClaudechatError)
    async def claudechat_error(request: Request, exc: ClaudechatError) -> Json:
        name_conversation(request, exc)
        status, kind, message, headers = describe(exc)
        return Json(error_body(kind, message), status, headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> Json:
        # A defect: the client gets JSON like every other error; the traceback goes to the
        # log once (Starlette raises the error on to uvicorn, which logs it).
        return Json(error_body("internal_error", "internal error; see the server log"), 500)


def _unparsed_body(exc: StarletteHTTPException) -> str | None:
    """Our wording for a body FastAPI could not parse, which it answers with a 400 of its own
    ("There was an error parsing the body"): truncated JSON said "the body is not valid JSON",
    a body nested too deep said that, for the same malformed_json. (A body that is not UTF-8
    is refused before, by RequestGuard, in the same words.)"""
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        return "the body is not valid JSON (nested too deep)"
    return None


def _allowed_methods(request: Request) -> str:
    """Every method the path answers. The router names the methods of the first route whose
    path matches, one of several here: /get_conversation (GET, HEAD and POST) said GET."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _summary(details: list[dict[str, Any]]) -> str:
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"] if part != "body")
    return f"{where}: {first['msg']}" if where else str(first["msg"])
