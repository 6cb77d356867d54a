"""The API's documentation pages work offline: every asset they name is served by the API."""

import re

import pytest
from fastapi.testclient import TestClient

from apps.api.application import create_app

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url: ?['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_docs_page_and_every_asset_it_names_come_from_the_api(settings, page):
    with TestClient(create_app(settings)) as client:
        html = client.get(page)
        assert html.status_code == 200
        assets = [a or b for a, b in ASSET.findall(html.text)]
        assert any(a.endswith(".js") for a in assets), assets
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from outside the API"
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 0, asset
