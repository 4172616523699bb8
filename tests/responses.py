"""Reading the body of a streamed response (the CSV downloads) in a test."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse


def streamed_body(response: object) -> bytes:
    """The whole body of a synchronous streaming response, as the test client returns it."""
    assert isinstance(response, StreamingHttpResponse)
    chunks = response.streaming_content
    assert isinstance(chunks, Iterator)  # not an async iterator
    return b"".join(chunks)
