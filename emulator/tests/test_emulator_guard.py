"""What a web page in the developer's browser cannot do to a loopback emulator, and what clients still can.

Requests are sent over a real socket with the headers a browser would send: a cross-origin form POST, and a
request after DNS rebinding (a foreign name in ``Host`` on the loopback address).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from elastic_jobs_emulator import Emulator
from tests.conftest import SEED, job_ref

API = {"api-version": "2025-01-01"}


@pytest.fixture
def local() -> Iterator[Emulator]:
    with Emulator(seed=SEED) as running:
        yield running


def port_of(emulator: Emulator) -> int:
    port = urlsplit(emulator.url).port
    assert port is not None
    return port


def job_exists(emulator: Emulator) -> bool:
    answer = requests.get(
        f"{emulator.url}{job_ref().path}", params=API, headers={"Authorization": "Bearer t"}, timeout=5
    )
    return answer.status_code == 200


def test_a_cross_origin_form_post_to_the_admin_api_is_refused_and_wipes_nothing(local: Emulator) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for origin in ("https://attacker.example", "null", f"http://localhost:{port_of(local) + 1}"):
        refused = requests.post(
            f"{local.url}/_emulator/reset", data="x=1", headers={**form, "Origin": origin}, timeout=5
        )
        assert refused.status_code == 403, origin
        assert "comes from another origin" in refused.json()["detail"] and origin in refused.json()["detail"]
    no_origin = requests.post(f"{local.url}/_emulator/reset", data="x=1", headers=form, timeout=5)
    assert no_origin.status_code == 415
    assert "JSON bodies only" in no_origin.json()["detail"]
    planted = requests.post(
        f"{local.url}/_emulator/faults",
        data='{"kind": "status", "status": 500}',
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert planted.status_code == 415
    assert job_exists(local) and local.requests_log()[-1]["status"] == 200  # nothing wiped
    assert requests.get(f"{local.url}/_emulator/faults", timeout=5).json() == []  # nothing planted


def test_json_from_the_emulators_own_origin_and_bodiless_posts_pass(local: Emulator) -> None:
    port = port_of(local)
    own = {"Origin": f"http://127.0.0.1:{port}"}
    added = requests.post(f"{local.url}/_emulator/faults", json={"kind": "delay"}, headers=own, timeout=5)
    assert added.status_code == 201
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert requests.put(f"{local.url}/_emulator/settings", data="{}", headers=charset, timeout=5).status_code == 200
    local.clear_faults()
    local.reset()  # a POST without a body, as the helpers and curl -X POST send it
    assert not job_exists(local)


@pytest.mark.parametrize(
    "host", ["attacker.example:{port}", "attacker.example", "127.0.0.2:{port}", "localhost.:{port}"]
)
def test_a_request_naming_another_host_is_refused_on_loopback_against_dns_rebinding(local: Emulator, host: str) -> None:
    port = port_of(local)
    named = {"Host": host.format(port=port)}
    admin = requests.get(f"{local.url}/_emulator/requests", headers=named, timeout=5)
    assert admin.status_code == 403
    assert "does not name this emulator" in admin.json()["detail"] and "localhost" in admin.json()["detail"]
    arm = requests.get(
        f"{local.url}{job_ref().path}", params=API, headers={**named, "Authorization": "Bearer t"}, timeout=5
    )
    assert arm.status_code == 403 and arm.json()["error"]["code"] == "HostNotAllowed"
    assert "DNS rebinding" in arm.json()["error"]["message"]
    entra = requests.get(f"{local.url}/tenant/v2.0/.well-known/openid-configuration", headers=named, timeout=5)
    assert entra.status_code == 403


@pytest.mark.parametrize(
    "name", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "localhost:9000"]
)
def test_the_loopback_names_are_served_on_the_bound_port_or_a_forwarded_one(local: Emulator, name: str) -> None:
    named = {"Host": name.format(port=port_of(local)), "Authorization": "Bearer t"}
    assert requests.get(f"{local.url}{job_ref().path}", params=API, headers=named, timeout=5).status_code == 200
    assert requests.get(f"{local.url}/_emulator/health", headers=named, timeout=5).status_code == 200


def test_on_loopback_the_admin_docs_are_open_and_beyond_it_they_need_the_admin_token(local: Emulator) -> None:
    assert "swagger-ui" in requests.get(f"{local.url}/_emulator/docs", timeout=5).text
    assert "/_emulator/reset" in requests.get(f"{local.url}/_emulator/openapi.json", timeout=5).json()["paths"]
    with Emulator(host="0.0.0.0", token="wide-open-no-more") as exposed:
        admin = exposed.url.replace("0.0.0.0", "127.0.0.1") + "/_emulator"
        for page in ("docs", "openapi.json"):
            assert requests.get(f"{admin}/{page}", timeout=5).status_code == 401, page
            bearer = {"Authorization": "Bearer wide-open-no-more", "Host": f"build-agent:{port_of(exposed)}"}
            assert requests.get(f"{admin}/{page}", headers=bearer, timeout=5).status_code == 200, page
