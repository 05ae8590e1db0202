"""The home page and the basic pages answer, in Dutch by default."""

from __future__ import annotations


def test_home_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="nl"' in response.get_data(as_text=True)


def test_unknown_route_is_404_page(client):
    response = client.get("/does-not-exist")
    assert response.status_code == 404
    assert "<h1>" in response.get_data(as_text=True)
