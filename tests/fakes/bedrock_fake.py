"""FakeBedrock: the Bedrock runtime Converse, ConverseStream and CountTokens operations, on 127.0.0.1.

base_url is "http://127.0.0.1:PORT"; requests go to /model/{percent-encoded model id}/converse and
/converse-stream; CountTokens to /model/{id}/count-tokens with {"input": {"converse": {messages, system,
toolConfig, additionalModelRequestFields}}} (answered {"inputTokens": N}). Auth is AWS SigV4 (service
"bedrock"): the Authorization header's shape, scope, date and signed headers are checked, and the signature
is recomputed with botocore from the fake's secret key over the raw path it received, as AWS does. A Bedrock
API key (`Authorization: Bearer`) works when `bearer_tokens` are given. Streams use the binary event-stream
framing (application/vnd.amazon.eventstream) with Bedrock's "p" padding field in each event. Errors are
{"message"} with an `x-amzn-ErrorType` header.
"""

from __future__ import annotations

import hmac
import re
import time
from calendar import timegm
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from proxy_engine.dialects.eventstream import CONTENT_TYPE, EventStreamFramer, encode_event, encode_exception

from .base import RECORD_KEY, FakeProvider, InvalidRequest
from .script import Script, new_id, split_text

FAKE_ACCESS_KEY = "AKIAFAKEBEDROCK00001"
FAKE_SECRET_KEY = "fAkE/bedrock+SecretKey/0123456789abcdefghij"
DEFAULT_MODELS = [
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "amazon.nova-pro-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
]
ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$"
)
MAX_SKEW_S = 300
PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# The Anthropic betas Converse takes in `additionalModelRequestFields.anthropic_beta`; others are a 400.
BEDROCK_BETAS = frozenset({"context-1m-2025-08-07", "computer-use-2025-01-24", "computer-use-2025-11-24"})
TOP_FIELDS = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
}
BLOCK_KINDS = {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent", "cachePoint",
               "reasoningContent", "citationsContent", "searchResult"}  # fmt: skip
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}
DOC_FORMATS = {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


class FakeBedrock(FakeProvider):
    """A fake bedrock-runtime.{region}.amazonaws.com.

    `api_keys` are the access key ids it knows; each signs with `secret_keys[id]`, else `secret_key`.
    Script rules keyed by `key=` match the access key id (or the bearer token).
    """

    default_key = FAKE_ACCESS_KEY

    def __init__(
        self,
        *args: Any,
        region: str = "us-east-1",
        secret_key: str = FAKE_SECRET_KEY,
        secret_keys: dict[str, str] | None = None,
        session_token: str | None = None,
        bearer_tokens: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.region = region
        self.secret_key = secret_key
        self.secret_keys = dict(secret_keys or {})  # per access key id, for pools; else secret_key
        self.session_token = session_token
        self.bearer_tokens = list(bearer_tokens)

    @property
    def access_key(self) -> str:
        return self.api_key

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/model/{tail:.+}", self._invoke)

    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        kind = err_type or ERROR_TYPES.get(status, "InternalServerException")
        extra = {
            "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": new_id("", 32),
        }
        return web.json_response({"message": message}, status=status, headers={**(headers or {}), **extra})

    def model_list(self) -> list[str]:
        return self.known_models or DEFAULT_MODELS

    def model_known(self, model: str) -> bool:
        """Bedrock refuses ids it does not serve; without `known_models`, DEFAULT_MODELS are served."""
        return model in self.model_list()

    # ----- SigV4 -----------------------------------------------------------------------------------------
    def _deny(self, kind: str, message: str) -> web.Response:
        return self.error_response(403, message, kind)

    def check_auth(self, request: web.Request, body: bytes) -> tuple[str | None, web.Response | None]:
        """(credential id, None) when the request is authentic, else (id or None, the 403 AWS answers)."""
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            if any(hmac.compare_digest(token.encode(), t.encode()) for t in self.bearer_tokens):
                return token, None
            return token, self._deny("UnrecognizedClientException", "Invalid API Key format or value.")
        if not auth:
            return None, self._deny("MissingAuthenticationTokenException", "Missing Authentication Token")
        m = AUTH_RE.match(auth)
        if m is None:
            return None, self._deny(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
            )
        akid = m["akid"]
        if not self.key_matches(akid):
            return akid, self._deny(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if m["service"] != "bedrock" or m["region"] != self.region:
            return akid, self._deny(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region and service 'bedrock' in '{self.region}'.",
            )
        amz_date = request.headers.get("X-Amz-Date", "")
        try:
            signed_at = timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return akid, self._deny("IncompleteSignatureException", "X-Amz-Date header is missing or malformed.")
        if amz_date[:8] != m["date"]:
            return akid, self._deny("InvalidSignatureException", "Date in Credential scope does not match X-Amz-Date.")
        if abs(time.time() - signed_at) > MAX_SKEW_S:
            return akid, self._deny("InvalidSignatureException", f"Signature expired: {amz_date} is out of range.")
        signed = m["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
            return akid, self._deny("InvalidSignatureException", "SignedHeaders must list host and x-amz-date, sorted.")
        missing = [h for h in signed if h not in request.headers]
        if missing:
            return akid, self._deny("InvalidSignatureException", f"Signed header(s) not sent: {', '.join(missing)}")
        token = request.headers.get("X-Amz-Security-Token")
        if self.session_token is not None and (
            token is None
            or "x-amz-security-token" not in signed
            or not hmac.compare_digest(token.encode(), self.session_token.encode())
        ):
            return akid, self._deny(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if not hmac.compare_digest(self.expected_signature(request, body, akid, signed, amz_date, token), m["sig"]):
            return akid, self._deny(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
            )
        return akid, None

    def expected_signature(
        self, request: web.Request, body: bytes, akid: str, signed: list[str], amz_date: str, token: str | None
    ) -> str:
        """The signature AWS would compute: botocore over the raw path and the signed headers as received."""
        headers = {name: request.headers[name] for name in signed if name != "host"}
        aws_request = AWSRequest(
            method=request.method, url=f"http://{request.host}{request.raw_path}", data=body, headers=headers
        )
        aws_request.context["timestamp"] = amz_date
        secret = self.secret_keys.get(akid, self.secret_key)
        signer = SigV4Auth(Credentials(akid, secret, token), "bedrock", self.region)
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)

    # ----- the operation ---------------------------------------------------------------------------------
    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        rec = request[RECORD_KEY]
        key, failure = self.check_auth(request, rec.body)
        if failure is not None:
            return failure
        raw = request.raw_path.split("?", 1)[0][len("/model/") :]
        encoded_model, _, action = raw.rpartition("/")
        if action not in ("converse", "converse-stream", "count-tokens") or not encoded_model or "/" in encoded_model:
            return self.error_response(404, "Unknown operation", "UnknownOperationException")
        model = unquote(encoded_model)
        try:
            body = self.json_body(request)
            (validate_count_tokens if action == "count-tokens" else validate_converse)(body)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        if not self.model_known(model):
            return self.error_response(400, "The provided model identifier is invalid.")
        script = self.pick_script(key, model)
        if script.status is not None:
            if script.delay:
                await self.wait(request, script.delay)
            return self.scripted_error(script, f"scripted error {script.status}")
        if action == "count-tokens":
            return web.json_response({"inputTokens": script.usage.input_tokens})
        renderer = ConverseRenderer(script, model, body)
        headers = {"x-amzn-RequestId": new_id("", 32)}
        if action == "converse":
            return await self.send_json(request, script, renderer.as_json(), headers)
        error = encode_exception(
            script.error_type or "modelStreamErrorException", script.error_message or "The model stream failed."
        )
        return await self.send_stream(
            request, script, renderer.frames(), content_type=CONTENT_TYPE, headers=headers, error_frame=error
        )


# ----- validation (what Bedrock answers 400 ValidationException to) --------------------------------------
def _union(obj: Any, where: str, allowed: set[str]) -> str:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise InvalidRequest(f"{where}: exactly one member of the union must be set")
    (kind,) = obj
    if kind not in allowed:
        raise InvalidRequest(f"{where}: unknown member {kind!r}")
    return kind


def _text(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"The text field in the ContentBlock object at {where} is blank. Add text and try again.")


def _media(block: dict, where: str, formats: set[str], need_name: bool) -> None:
    if block.get("format") not in formats:
        raise InvalidRequest(f"{where}.format: must be one of {sorted(formats)}")
    if need_name and not (isinstance(block.get("name"), str) and block["name"].strip()):
        raise InvalidRequest(f"{where}.name: Member must not be null")
    kind = _union(block.get("source"), f"{where}.source", {"bytes", "s3Location", "text", "content"})
    if kind == "bytes" and not (isinstance(block["source"]["bytes"], str) and block["source"]["bytes"]):
        raise InvalidRequest(f"{where}.source.bytes: Member must not be empty")


def _block(block: Any, where: str, role: str, uses: set[str], results: set[str]) -> None:
    kind = _union(block, where, BLOCK_KINDS)
    value = block[kind]
    if kind == "text":
        _text(value, where)
    elif kind == "image":
        _media(value, f"{where}.image", IMAGE_FORMATS, False)
    elif kind == "document":
        _media(value, f"{where}.document", DOC_FORMATS, True)
    elif kind == "toolUse":
        if role != "assistant":
            raise InvalidRequest(f"{where}: toolUse blocks belong in assistant messages")
        if not (isinstance(value, dict) and TOOL_ID.match(str(value.get("toolUseId", "")))):
            raise InvalidRequest(f"{where}.toolUse.toolUseId: must match ^[a-zA-Z0-9_-]+$")
        if not TOOL_NAME.match(str(value.get("name", ""))) or not isinstance(value.get("input"), dict):
            raise InvalidRequest(f"{where}.toolUse: needs a valid name and an object input")
        uses.add(value["toolUseId"])
    elif kind == "toolResult":
        if role != "user":
            raise InvalidRequest(f"{where}: toolResult blocks belong in user messages")
        if not isinstance(value, dict) or not isinstance(value.get("toolUseId"), str):
            raise InvalidRequest(f"{where}.toolResult.toolUseId: Member must not be null")
        if value.get("status") not in (None, "success", "error"):
            raise InvalidRequest(f"{where}.toolResult.status: must be success or error")
        content = value.get("content")
        if not isinstance(content, list):
            raise InvalidRequest(f"{where}.toolResult.content: Member must not be null")
        for j, item in enumerate(content):
            inner = _union(item, f"{where}.toolResult.content.{j}", {"text", "json", "image", "document"})
            if inner == "text":
                _text(item["text"], f"{where}.toolResult.content.{j}")
        results.add(value["toolUseId"])
    elif kind == "reasoningContent":
        if role != "assistant":
            raise InvalidRequest(f"{where}: reasoningContent belongs in assistant messages")
        inner = _union(value, f"{where}.reasoningContent", {"reasoningText", "redactedContent"})
        if inner == "reasoningText" and not isinstance(value["reasoningText"].get("text"), str):
            raise InvalidRequest(f"{where}.reasoningContent.reasoningText.text: Member must not be null")


def _check_messages(messages: Any) -> bool:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: Member must not be null or empty")
    has_tools = False
    previous_uses: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: must be user or assistant")
        if i == 0 and role != "user":
            raise InvalidRequest(
                "A conversation must start with a user message. "
                "Try again with a conversation that starts with a user message."
            )
        if i and messages[i - 1]["role"] == role:
            raise InvalidRequest(
                "A conversation must alternate between user and assistant roles. "
                "Make sure the conversation alternates between user and assistant roles and try again."
            )
        content = msg.get("content")
        if not isinstance(content, list) or not content:
            raise InvalidRequest(f"messages.{i}.content: Member must not be null or empty")
        uses: set[str] = set()
        results: set[str] = set()
        for j, block in enumerate(content):
            _block(block, f"messages.{i}.content.{j}", role, uses, results)
        unknown = results - previous_uses
        if unknown:
            raise InvalidRequest(
                f"messages.{i}: toolResult ids {sorted(unknown)} match no toolUse in the previous turn"
            )
        has_tools = has_tools or bool(uses or results)
        previous_uses = uses
    return has_tools


def _check_tool_config(config: Any) -> None:
    if not isinstance(config, dict) or not isinstance(config.get("tools"), list) or not config["tools"]:
        raise InvalidRequest("toolConfig.tools: Member must not be null or empty")
    for i, tool in enumerate(config["tools"]):
        if _union(tool, f"toolConfig.tools.{i}", {"toolSpec", "systemTool", "cachePoint"}) != "toolSpec":
            continue
        spec = tool["toolSpec"]
        if not TOOL_NAME.match(str(spec.get("name", ""))):
            raise InvalidRequest(f"toolConfig.tools.{i}.toolSpec.name: must match ^[a-zA-Z0-9_-]{{1,64}}$")
        if "description" in spec and not (isinstance(spec["description"], str) and spec["description"]):
            raise InvalidRequest(f"toolConfig.tools.{i}.toolSpec.description: must not be empty")
        schema = spec.get("inputSchema")
        if _union(schema, f"toolConfig.tools.{i}.toolSpec.inputSchema", {"json"}) and not (
            isinstance(schema["json"], dict) and schema["json"].get("type") == "object"
        ):
            raise InvalidRequest(f"toolConfig.tools.{i}.toolSpec.inputSchema.json: must be an object schema")
    if "toolChoice" in config:
        kind = _union(config["toolChoice"], "toolConfig.toolChoice", {"auto", "any", "tool"})
        if kind == "tool" and not isinstance(config["toolChoice"]["tool"].get("name"), str):
            raise InvalidRequest("toolConfig.toolChoice.tool.name: Member must not be null")


def _check_inference(body: dict) -> int | None:
    config = body.get("inferenceConfig", {})
    if not isinstance(config, dict) or set(config) - {"maxTokens", "temperature", "topP", "stopSequences"}:
        raise InvalidRequest("inferenceConfig: only maxTokens, temperature, topP and stopSequences are allowed")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest("inferenceConfig.maxTokens: Member must have value greater than or equal to 1")
    for name in ("temperature", "topP"):
        value = config.get(name)
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise InvalidRequest(f"inferenceConfig.{name}: Member must be between 0 and 1")
    stops = config.get("stopSequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) and s for s in stops)):
        raise InvalidRequest("inferenceConfig.stopSequences: must be a list of non-empty strings")
    return max_tokens


def validate_converse(body: dict[str, Any]) -> None:
    """POST /model/{modelId}/converse and /converse-stream (the model id is in the path only)."""
    unknown = set(body) - TOP_FIELDS
    if unknown:
        raise InvalidRequest(f"Unexpected field(s) in the request body: {', '.join(sorted(unknown))}")
    has_tools = _check_messages(body.get("messages"))
    for i, block in enumerate(body.get("system") or []):
        if _union(block, f"system.{i}", {"text", "guardContent", "cachePoint"}) == "text":
            _text(block["text"], f"system.{i}")
    if "toolConfig" in body:
        _check_tool_config(body["toolConfig"])
    elif has_tools:
        raise InvalidRequest("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    max_tokens = _check_inference(body)
    extra = body.get("additionalModelRequestFields", {})
    betas = extra.get("anthropic_beta") if isinstance(extra, dict) else None
    if betas is not None and not (isinstance(betas, list) and set(betas) <= BEDROCK_BETAS):
        raise InvalidRequest("invalid beta flag")
    thinking = extra.get("thinking") if isinstance(extra, dict) else None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise InvalidRequest("thinking.budget_tokens: Input should be greater than or equal to 1024")
        if max_tokens is not None and budget >= max_tokens:
            raise InvalidRequest("`max_tokens` must be greater than `thinking.budget_tokens`.")
        if body.get("inferenceConfig", {}).get("temperature", 1) != 1:
            raise InvalidRequest("`temperature` may only be set to 1 when thinking is enabled.")


def validate_count_tokens(body: dict[str, Any]) -> None:
    """POST /model/{modelId}/count-tokens: `input` is a union of `converse` (Converse's input) and `invokeModel`."""
    if set(body) != {"input"}:
        raise InvalidRequest(f"Unexpected field(s) in the request body: {', '.join(sorted(set(body) - {'input'}))}"
                             if set(body) - {"input"} else "input: Member must not be null")  # fmt: skip
    if _union(body["input"], "input", {"converse", "invokeModel"}) == "invokeModel":
        if not isinstance(body["input"]["invokeModel"].get("body"), str):
            raise InvalidRequest("input.invokeModel.body: Member must not be null")
        return
    converse = body["input"]["converse"]
    allowed = {"messages", "system", "toolConfig", "additionalModelRequestFields"}
    unknown = set(converse) - allowed if isinstance(converse, dict) else {"converse"}
    if unknown:
        raise InvalidRequest(f"Unexpected field(s) in input.converse: {', '.join(sorted(unknown))}")
    has_tools = _check_messages(converse.get("messages"))
    for i, block in enumerate(converse.get("system") or []):
        if _union(block, f"system.{i}", {"text", "guardContent", "cachePoint"}) == "text":
            _text(block["text"], f"system.{i}")
    if "toolConfig" in converse:
        _check_tool_config(converse["toolConfig"])
    elif has_tools:
        raise InvalidRequest("The toolConfig field must be defined when using toolUse and toolResult content blocks.")


def thinking_enabled(body: dict[str, Any]) -> bool:
    extra = body.get("additionalModelRequestFields")
    return isinstance(extra, dict) and (extra.get("thinking") or {}).get("type") == "enabled"


# ----- rendering ---------------------------------------------------------------------------------------
class ConverseRenderer:
    """One Converse answer, whole or as the ConverseStream events (already framed)."""

    def __init__(self, script: Script, model: str, body: dict[str, Any]) -> None:
        self.script = script
        self.model = model
        self.text = script.reply_text(model)
        self.thinking = script.thinking if script.thinking and thinking_enabled(body) else None
        self.tool_ids = [tc.id or new_id("tooluse_", 22) for tc in script.tool_calls]
        self.padding = 0

    def stop_reason(self) -> str:
        return self.script.stop_reason or ("tool_use" if self.script.tool_calls else "end_turn")

    def usage(self) -> dict[str, Any]:
        u = self.script.usage
        out: dict[str, Any] = {
            "inputTokens": u.uncached_input,
            "outputTokens": u.output_tokens,
            "totalTokens": u.input_tokens + u.output_tokens,
        }
        if u.cache_read_tokens or u.cache_write_tokens:
            out["cacheReadInputTokens"] = u.cache_read_tokens
            out["cacheWriteInputTokens"] = u.cache_write_tokens
        return out

    def blocks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.thinking:
            reasoning = {"text": self.thinking, "signature": self.script.signature()}
            out.append({"reasoningContent": {"reasoningText": reasoning}})
        if self.text:
            out.append({"text": self.text})
        for tc, tid in zip(self.script.tool_calls, self.tool_ids, strict=True):
            out.append({"toolUse": {"toolUseId": tid, "name": tc.name, "input": tc.arguments_dict}})
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": self.blocks()}},
            "stopReason": self.stop_reason(),
            "usage": self.usage(),
            "metrics": {"latencyMs": 321},
        }

    def _event(self, name: str, payload: dict[str, Any]) -> bytes:
        self.padding = self.padding % len(PADDING) + 1  # Bedrock pads events to hide their lengths
        return encode_event(name, {**payload, "p": PADDING[: self.padding]})

    def frames(self) -> list[bytes]:
        s = self.script
        out = [self._event("messageStart", {"role": "assistant"})]
        index = 0

        def delta(d: dict[str, Any]) -> bytes:
            return self._event("contentBlockDelta", {"delta": d, "contentBlockIndex": index})

        def stop() -> bytes:
            return self._event("contentBlockStop", {"contentBlockIndex": index})

        if self.thinking:
            out += [delta({"reasoningContent": {"text": p}}) for p in split_text(self.thinking, s.chunks)]
            out += [delta({"reasoningContent": {"signature": s.signature()}}), stop()]
            index += 1
        if self.text:
            pieces = split_text(self.text, s.chunks)
            out += [delta({"text": p}) for p in (["", *pieces] if s.edge_cases else pieces)]
            out.append(stop())
            index += 1
        for tc, tid in zip(s.tool_calls, self.tool_ids, strict=True):
            start = {"start": {"toolUse": {"toolUseId": tid, "name": tc.name}}, "contentBlockIndex": index}
            out.append(self._event("contentBlockStart", start))
            out += [delta({"toolUse": {"input": p}}) for p in split_text(tc.arguments_json, s.arg_chunks)]
            out.append(stop())
            index += 1
        out.append(self._event("messageStop", {"stopReason": self.stop_reason()}))
        out.append(self._event("metadata", {"usage": self.usage(), "metrics": {"latencyMs": 321}}))
        return out


def decode_frames(raw: bytes) -> list[dict[str, Any]]:
    """A whole event-stream body as Bedrock event dicts (for tests)."""
    framer = EventStreamFramer()
    events = framer.feed(raw)
    assert framer.at_eof(), "the event stream ended mid-message"
    return events
