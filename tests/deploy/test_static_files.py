"""Static files as production serves them (OMNICO_STATIC_COLLECTED=1: the image collects them
at build time): hashed names, gzip and Brotli copies, ten-year caching of hashed names, and no
page naming a file the manifest lacks (the manifest storage raises on one)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client, override_settings

from configuration.models import ChannelKind, SupportPage
from tests.factories import make_account, make_ticket
from tests.omnico.helpers import clean_env

ROOT = Path(__file__).resolve().parents[2]
HASHED = re.compile(r"\.[0-9a-f]{12}\.")
STATIC_REF = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")
TEMPLATE_STATIC = re.compile(r"""{%\s*static\s+["']([^"']+)["']""")


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    """collectstatic as the image's build runs it, into a scratch STATIC_ROOT."""
    tmp = tmp_path_factory.mktemp("static")
    root = tmp / "staticfiles"
    env = clean_env(tmp, OMNICO_STATIC_COLLECTED="1", OMNICO_STATIC_ROOT=str(root))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return root


@pytest.fixture
def production_static(collected, settings):
    with override_settings(
        STATIC_ROOT=collected,
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_MAX_AGE=300,
    ):
        yield collected


def _template_static_names() -> set[str]:
    names = set()
    for template in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]:
        names.update(TEMPLATE_STATIC.findall(template.read_text()))
    return names


def test_collected_files_have_hashed_names_and_compressed_copies(collected):
    htmx = sorted(collected.glob("vendor/htmx.min.*.js"))
    assert len(htmx) == 1 and HASHED.search(htmx[0].name)
    size = htmx[0].stat().st_size
    gz = htmx[0].with_name(htmx[0].name + ".gz")
    br = htmx[0].with_name(htmx[0].name + ".br")
    assert gz.exists() and br.exists()
    assert gz.stat().st_size < size / 2 and br.stat().st_size < gz.stat().st_size
    assert (collected / "staticfiles.json").exists()


def test_every_static_file_a_template_names_is_in_the_manifest(production_static):
    names = _template_static_names()
    assert "vendor/htmx.min.js" in names

    for name in sorted(names):
        assert HASHED.search(staticfiles_storage.url(name)), name  # raises if missing


def test_no_hard_coded_static_path_in_templates_or_scripts():
    offenders = [
        str(path.relative_to(ROOT))
        for path in [
            *ROOT.glob("templates/**/*.html"),
            *ROOT.glob("*/templates/**/*.html"),
            *ROOT.glob("static/**/*.js"),
            *ROOT.glob("static/**/*.css"),
        ]
        if re.search(r"""["'(]/static/""", path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_pages_link_hashed_static_files_that_exist(production_static, agent, admin_user):
    ticket = make_ticket()
    SupportPage.objects.create(
        channel_account=make_account(kind=ChannelKind.WEBCHAT, name="help"), company_name="Acme"
    )
    visitor, agent_browser, admin_browser = Client(), Client(), Client()
    agent_browser.force_login(agent)
    admin_browser.force_login(admin_user)
    pages = [
        (visitor, "/accounts/login/"),
        (visitor, "/support/help/"),
        (agent_browser, "/"),
        (agent_browser, "/inbox/"),
        (agent_browser, "/tickets/"),
        (agent_browser, f"/inbox/{ticket.pk}/"),
        (admin_browser, "/admin/"),
        (admin_browser, "/admin/configuration/supportpage/"),
    ]

    seen = set()
    for browser, url in pages:
        response = browser.get(url)
        assert response.status_code == 200, url
        refs = STATIC_REF.findall(response.content.decode())
        assert refs, url
        for ref in refs:
            assert HASHED.search(ref), f"{url} links the unhashed {ref}"
            assert (production_static / ref.removeprefix("/static/")).is_file(), ref
        seen.update(refs)
    assert any("htmx.min." in ref for ref in seen)


def test_hashed_files_are_served_compressed_and_cached_for_years(production_static):
    url = staticfiles_storage.url("vendor/htmx.min.js")

    brotli = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, br")
    plain = Client().get("/static/vendor/htmx.min.js", HTTP_ACCEPT_ENCODING="gzip")

    assert brotli.status_code == 200
    assert brotli["Content-Encoding"] == "br"
    assert int(brotli["Content-Length"]) < 20_000
    assert "immutable" in brotli["Cache-Control"]
    assert "max-age=315360000" in brotli["Cache-Control"]
    assert plain["Content-Encoding"] == "gzip"
    assert plain["Cache-Control"] == "max-age=300, public"


def test_the_embed_script_customers_paste_keeps_its_fixed_url(production_static, db):
    SupportPage.objects.create(
        channel_account=make_account(kind=ChannelKind.WEBCHAT, name="help"), company_name="Acme"
    )

    response = Client().get("/support/help/embed.js")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=3600"
    assert "__OMNICO_EMBED_CONFIG__" not in response.content.decode()
