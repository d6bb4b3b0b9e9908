"""The Turkish translation: pages speak Turkish when asked to, and the catalogue is complete."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from configuration.models import Subject

LC_MESSAGES = Path(settings.BASE_DIR) / "omnico" / "locale" / "tr" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

#: Python-format placeholders, str.format fields and HTML tags must survive translation.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*[sdif]|%[sdif]|\{\w*\}|<[^>]+>")

TURKISH = {"HTTP_ACCEPT_LANGUAGE": "tr"}


@pytest.fixture(autouse=True)
def _back_to_english_afterwards():
    """LocaleMiddleware activates Turkish in this thread; later tests must not inherit it."""
    yield
    translation.deactivate()


def _page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _translated(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_is_turkish_for_a_turkish_browser(client):
    page = _page(client.get(reverse("login"), **TURKISH))
    assert "Müşteri Temsilcisi Ekranı" in page
    assert "Giriş yap" in page
    assert "Kullanıcı adı" in page
    assert "Parola" in page
    assert "Sign in" not in page


@pytest.mark.django_db
def test_login_page_stays_english_without_a_language_preference(client):
    page = _page(client.get(reverse("login")))
    assert "Sign in to the agent screen." in page
    assert "Kullanıcı adı" not in page


def test_home_page_is_turkish_with_the_language_cookie(agent_client):
    agent_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "tr"
    page = _page(agent_client.get(reverse("home")))
    for text in ("Ana Sayfa", "Boş Kapasite", "Havuzda Bekleyen", "Çevrimdışı Mesajlar", "Takım"):
        assert text in page
    assert "Waiting in pool" not in page


def test_choosing_turkish_in_the_language_switch_sticks(agent_client):
    agent_client.post(reverse("set_language"), {"language": "tr", "next": "/"})
    page = _page(agent_client.get(reverse("home")))
    assert "Ana Sayfa" in page
    assert "Raporlar" in page


def test_admin_subject_list_is_turkish(admin_client):
    Subject.objects.create(name="Bağış")
    page = _page(admin_client.get(reverse("admin:configuration_subject_changelist"), **TURKISH))
    assert "Konular" in page
    assert "Yapılandırma" in page
    assert "Bağış" in page


def test_admin_update_says_guncelleme_basarili_in_turkish(admin_client):
    subject = Subject.objects.create(name="Bagis")
    response = admin_client.post(
        reverse("admin:configuration_subject_change", args=[subject.pk]),
        {"name": "Bağış", "is_active": "on", "position": "0"},
        follow=True,
        **TURKISH,
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Güncelleme başarılı: konu “Bağış”."
    ]
    assert "Güncelleme başarılı: konu “Bağış”." in _page(response)


def test_admin_delete_says_silme_islemi_basarili_in_turkish(admin_client):
    subject = Subject.objects.create(name="Kampanyalar")
    response = admin_client.post(
        reverse("admin:configuration_subject_delete", args=[subject.pk]),
        {"post": "yes"},
        follow=True,
        **TURKISH,
    )
    assert not Subject.objects.filter(pk=subject.pk).exists()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Silme işlemi başarılı: konu “Kampanyalar”."
    ]


def test_plural_messages_use_the_turkish_catalogue():
    with translation.override("tr"):
        assert (
            translation.ngettext("%(n)s ticket updated.", "%(n)s tickets updated.", 3) % {"n": 3}
            == "3 ticket güncellendi."
        )


# --- the catalogue -----------------------------------------------------------------------------


def test_po_file_has_no_untranslated_or_fuzzy_entries():
    po = polib.pofile(str(PO_FILE))
    assert po.metadata.get("Language") == "tr"
    assert "nplurals=2" in po.metadata.get("Plural-Forms", "")
    untranslated = [e.msgid for e in po.untranslated_entries() if not e.obsolete]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert not po.metadata_is_fuzzy
    assert len(po) > 100


def test_translations_keep_placeholders_and_html():
    po = polib.pofile(str(PO_FILE))
    broken = [
        (entry.msgid, text)
        for entry in po
        if not entry.obsolete
        for text in _translated(entry)
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(entry.msgid))
    ]
    assert broken == []


def test_mo_file_is_compiled_from_the_current_po_file():
    """The committed .mo carries exactly the .po's translations (no stale compile)."""
    po = polib.pofile(str(PO_FILE))
    mo = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(MO_FILE))}
    stale = []
    for entry in po:
        if entry.obsolete or not entry.translated():
            continue
        compiled = mo.get((entry.msgctxt, entry.msgid))
        if compiled is None or _translated(compiled) != _translated(entry):
            stale.append(entry.msgid)
    assert stale == [], "run: python manage.py compilemessages -l tr --ignore=.venv"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_po_file_passes_msgfmt_format_checks(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", str(tmp_path / "x.mo"), str(PO_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
