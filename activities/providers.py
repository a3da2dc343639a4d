"""Model providers: how a persona's base model is called.

``OpenAICompatibleProvider`` speaks the chat-completions protocol that OpenAI, Ollama, vLLM
and llama.cpp's server share. ``OfflineDeterministicProvider`` is what its name says: no
model at all, a reproducible stand-in for demos and tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

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


class ProviderError(RuntimeError):
    """The provider answered with something that is not a completion."""


class OfflineDeterministicProvider:
    """Not a model: a deterministic reply derived from the prompt, for demos and tests."""

    name = "offline-deterministic"

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
    """A chat-completions endpoint: ``POST {base_url}/chat/completions``."""

    def __init__(
        self, base_url: str, api_key: str, timeout_s: float = 60.0, images: bool = True
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )
        self.images = images

    async def complete(self, model: str, system: str, prompt: Prompt) -> Completion:
        """Send one chat completion request and read its first choice and usage."""
        response = await self._http.post(
            "/chat/completions",
            json={
                "model": model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": self.user_content(prompt)},
                ],
            },
        )
        response.raise_for_status()
        try:
            body = response.json()
            text = body["choices"][0]["message"]["content"]
            usage = body.get("usage") or {}
            return Completion(
                text=text,
                tokens_in=int(usage.get("prompt_tokens", 0)),
                tokens_out=int(usage.get("completion_tokens", 0)),
            )
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise ProviderError(f"not a chat completion: {response.text[:200]}") from err

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
        await self._http.aclose()


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
