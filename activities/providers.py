"""Model providers: how a persona's base model is called.

``OpenAICompatibleProvider`` speaks the chat-completions protocol (with tool calling) that
OpenAI, Ollama, vLLM and llama.cpp's server share, through the official ``openai`` client.
``OfflineDeterministicProvider`` is what its name says: no
model at all, a reproducible stand-in for demos and tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import openai
from pydantic import BaseModel

from personas.agent.planner import plan
from personas.agent.tools import MAX_ARGS_JSON, MAX_CALLS_PER_STEP, ToolCall, tool_from_wire
from personas.agent.turn import MAX_ANSWER, ModelReply
from personas.parts import BlobRef, PromptPart, prompt_text
from runtime.settings import Settings

IMAGE_URL_SCHEMES = ("https://", "http://", "data:image/")
"""References a chat-completions endpoint can fetch an image from."""


class Completion(BaseModel):
    """A model's answer and what it cost in tokens."""

    text: str
    tokens_in: int
    tokens_out: int


Prompt = str | Sequence[PromptPart]
"""What a model is asked: text, or parts (text, and blobs for models that read them)."""


class ModelProvider(Protocol):
    """Anything that can complete a prompt with a named model."""

    async def complete(self, model: str, system: str, prompt: Prompt) -> Completion:
        """Answer ``prompt`` as ``model`` under the ``system`` instruction."""
        ...


@runtime_checkable
class ChatProvider(Protocol):
    """A provider that can take a step of an agent turn: answer or ask for tool calls."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply:
        """The next reply to a chat-completions conversation with ``tools`` offered."""
        ...


class ProviderError(RuntimeError):
    """The provider answered with something that is not a completion."""


class OfflineDeterministicProvider:
    """Not a model: a deterministic reply derived from the prompt, for demos and tests.

    In an agent turn it is the scripted planner (:mod:`personas.agent.planner`): it asks for
    the tool calls of requests it recognises and answers from their results. With
    ``obey_injections`` it also follows instructions found in tool outputs, standing in for
    a model that prompt injection talks round (the scope check must still hold).
    """

    name = "offline-deterministic"

    def __init__(self, obey_injections: bool = False) -> None:
        self.obey_injections = obey_injections

    async def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply:
        """The scripted planner's next reply."""
        return plan(messages, tools, obey_injections=self.obey_injections)

    async def complete(self, model: str, system: str, prompt: Prompt) -> Completion:
        """A reply that names the model and a digest of the prompt; tokens are words.

        Parts are read as text (:func:`personas.parts.prompt_text`): a blob is its
        placeholder line, so a text prompt and its single text part answer alike.
        """
        prompt = prompt_text(prompt)
        digest = hashlib.sha256(f"{model}\n{system}\n{prompt}".encode()).hexdigest()[:12]
        first_line = prompt.strip().splitlines()[0][:120] if prompt.strip() else "(no text)"
        text = f"[{self.name} {model} #{digest}] {system.split('.')[0]}. On: {first_line}"
        return Completion(
            text=text,
            tokens_in=len(system.split()) + len(prompt.split()),
            tokens_out=len(text.split()),
        )


class OpenAICompatibleProvider:
    """A chat-completions endpoint through the official ``openai`` client.

    ``complete`` sends one system and one user message; ``chat`` sends a turn's conversation
    with its tools (JSON-schema functions) and reads back either the answer or the tool
    calls the model asks for (the published tool-calling protocol). Temporal retries the
    activity, so the client itself does not retry.
    """

    def __init__(
        self, base_url: str, api_key: str, timeout_s: float = 60.0, images: bool = True
    ) -> None:
        # A local server (Ollama, llama.cpp) wants no key: then no Authorization header.
        self._client = openai.AsyncOpenAI(
            base_url=base_url.rstrip("/"),
            api_key=api_key or "none",
            timeout=timeout_s,
            max_retries=0,
        )
        self._headers: dict[str, Any] = {} if api_key else {"Authorization": openai.Omit()}
        self.images = images

    async def _create(self, **request: Any) -> Any:
        try:
            response = await self._client.chat.completions.create(
                **request, extra_headers=self._headers
            )
        except openai.APIResponseValidationError as err:
            raise ProviderError(f"not a chat completion: {str(err)[:200]}") from err
        if not getattr(response, "choices", None):
            raise ProviderError(f"not a chat completion: {str(response)[:200]}")
        return response

    async def complete(self, model: str, system: str, prompt: Prompt) -> Completion:
        """Send one chat completion request and read its first choice and usage."""
        response = await self._create(
            model=model,
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": self.user_content(prompt)},
            ],
        )
        text = response.choices[0].message.content
        if not isinstance(text, str):
            raise ProviderError("not a chat completion: the first choice has no content")
        tokens_in, tokens_out = _usage(response)
        return Completion(text=text, tokens_in=tokens_in, tokens_out=tokens_out)

    async def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply:
        """One step of a turn: the answer, or the tool calls to make (at most
        ``MAX_CALLS_PER_STEP``; arguments longer than allowed are cut, and refused)."""
        request: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            request["tools"] = tools
        response = await self._create(**request)
        message = response.choices[0].message
        tokens_in, tokens_out = _usage(response)
        calls = tuple(
            ToolCall(
                call_id=str(c.id)[:128] or f"call_{i}",
                tool=tool_from_wire(str(c.function.name))[:64] or "?",
                arguments=str(c.function.arguments or "")[:MAX_ARGS_JSON],
            )
            for i, c in enumerate((message.tool_calls or [])[:MAX_CALLS_PER_STEP])
        )
        content = None if calls else (message.content or "")[:MAX_ANSWER]
        return ModelReply(
            content=content, tool_calls=calls, tokens_in=tokens_in, tokens_out=tokens_out
        )

    def user_content(self, prompt: Prompt) -> str | list[dict[str, Any]]:
        """The user message's content: one string unless an image goes as an ``image_url``."""
        if isinstance(prompt, str):
            return prompt
        urls = [self._image_url(p) for p in prompt]
        if not any(urls):
            return prompt_text(prompt)
        return [
            {"type": "image_url", "image_url": {"url": url}}
            if url
            else {"type": "text", "text": prompt_text([p])}
            for p, url in zip(prompt, urls, strict=True)
        ]

    def _image_url(self, part: PromptPart) -> str | None:
        """Where the endpoint fetches ``part`` as an image, or None to send it as text."""
        if not (self.images and isinstance(part, BlobRef)):
            return None
        if part.media_type.startswith("image/") and part.ref.startswith(IMAGE_URL_SCHEMES):
            return part.ref
        return None

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()


def _usage(response: Any) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return 0, 0
    return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)


def provider_from_settings(settings: Settings) -> ModelProvider:
    """The provider the settings choose."""
    if settings.model_provider == "openai":
        return OpenAICompatibleProvider(
            settings.model_base_url,
            settings.model_api_key.get_secret_value(),
            settings.model_timeout_s,
            settings.model_images,
        )
    return OfflineDeterministicProvider()
