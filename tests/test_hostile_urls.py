"""Numbers no row can have, in URLs and query strings, get a 404 or a message, never a 500."""

import pytest

HUGE = str(10**30)


@pytest.mark.parametrize(
    "path",
    [
        f"/user/predictions/{HUGE}",
        f"/user/predictions/{HUGE}/download",
        f"/user/models/{HUGE}",
        f"/user/models/{2**31}",
    ],
)
def test_a_huge_id_in_a_user_url_is_not_found(user_client, path):
    assert user_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", f"/developer/retrain/{HUGE}"),
        ("post", f"/developer/users/{HUGE}/deactivate"),
        ("post", f"/developer/models/{HUGE}/deploy"),
        ("post", f"/developer/models/{HUGE}/undeploy"),
    ],
)
def test_a_huge_id_in_a_developer_url_is_not_found(developer_client, method, path):
    assert getattr(developer_client, method)(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        f"page={2**63}",
        "page=-1",
        "page=abc",
        f"model={HUGE}",
        f"user={HUGE}",
        "date_to=9999-12-31",
        "date_from=0001-01-01&date_to=9999-12-31",
        "date_from=garbage",
    ],
)
def test_odd_history_queries_answer_with_the_page(developer_client, query):
    response = developer_client.get(f"/developer/predictions?{query}")
    assert response.status_code == 200
    assert b"Prediction history" in response.data


@pytest.mark.parametrize("path", ["/developer/users", "/developer/datasets"])
def test_a_huge_page_number_shows_an_empty_page_not_an_error(developer_client, path):
    assert developer_client.get(f"{path}?page={2**63}").status_code == 200
