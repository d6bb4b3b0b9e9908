"""Which URLs an outgoing webhook may post to (configuration/webhooks.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from configuration.webhooks import webhook_address_refusal, webhook_url_validate


@pytest.mark.parametrize(
    "url",
    ["https://crm.example.com/hooks", "https://93.184.216.34/hooks", "https://[2001:db8::1]/"],
)
def test_https_to_a_public_host_is_accepted(settings, url):
    settings.DEBUG = False
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = False
    if "2001:db8" in url:  # documentation range: reserved, refused like a private one
        with pytest.raises(ValidationError):
            webhook_url_validate(url)
        return
    webhook_url_validate(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://crm.example.com/hooks", "https"),
        ("ftp://crm.example.com/hooks", "https"),
        ("https://10.0.0.5/hooks", "private"),
        ("https://192.168.1.2/hooks", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://127.0.0.1:8000/hooks", "private"),
        ("https://localhost/hooks", "private"),
        ("https://[::1]/hooks", "private"),
        ("http://127.0.0.1:8000/hooks", "https"),
        ("https://user:pw@crm.example.com/hooks", "password"),
    ],
)
def test_unsafe_urls_are_refused_in_production(settings, url, reason):
    settings.DEBUG = False
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as error:
        webhook_url_validate(url)
    assert reason in str(error.value)


def test_http_to_loopback_is_allowed_only_when_debugging_or_allowed(settings):
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    webhook_url_validate("http://127.0.0.1:8000/hooks")
    with pytest.raises(ValidationError):
        webhook_url_validate("http://10.0.0.5/hooks")  # plain http only to loopback


def test_a_host_name_that_resolves_to_a_private_address_is_not_sent_to(settings):
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = False
    assert "private" in webhook_address_refusal("https://localhost/hooks")
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    assert webhook_address_refusal("https://localhost/hooks") == ""


def test_debug_allows_a_loopback_receiver_but_not_the_private_network(settings):
    settings.DEBUG = True
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = False
    webhook_url_validate("http://127.0.0.1:8000/hooks")
    assert webhook_address_refusal("http://127.0.0.1:8000/hooks") == ""
    with pytest.raises(ValidationError):
        webhook_url_validate("https://10.0.0.5/hooks")
