"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping what it receives."""

from __future__ import annotations

import email
import re
import socket
from email.message import EmailMessage
from email.policy import default as default_policy
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


class MailServer:
    """Start with `start()`; `messages_to(address)` lists what arrived for an address."""

    def __init__(self) -> None:
        self.port = free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

    def clear(self) -> None:
        self._collector.messages.clear()

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in m["To"].lower()]

    def last_to(self, address: str) -> EmailMessage:
        received = self.messages_to(address)
        assert received, f"no email arrived for {address}; got {[m['To'] for m in self.messages]}"
        return received[-1]


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_path(message: EmailMessage, prefix: str) -> str:
    """The path of the first link in `message` whose path starts with `prefix`."""
    for link in LINK.findall(body_of(message)):
        path = urlsplit(link).path
        if path.startswith(prefix):
            return path
    raise AssertionError(f"no {prefix} link in: {body_of(message)}")
