"""A segment no customer has is said to be no such segment, not a segment without customers yet."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.utils import translation

from clv_dashboard import roles
from metrics.board.views import ERROR_NO_SUCH_SEGMENT


def test_a_made_up_segment_says_there_is_no_such_segment(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/?scope=region:Atlantis")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'id="board-no-such-segment"' in page
    assert str(ERROR_NO_SUCH_SEGMENT).format(scope="Region: Atlantis") in page
    assert "no customers" not in page and "board-no-row" not in page


def test_no_such_segment_is_said_in_chinese(client_as: Callable, board_snapshots: dict) -> None:
    client: Client = client_as(roles.EXECUTIVE)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/board/?scope=region:Atlantis").content.decode()
    with translation.override("zh-hans"):
        expected = str(ERROR_NO_SUCH_SEGMENT).format(scope="区域：Atlantis")
    assert expected in page and "There is no such segment" not in expected


def test_a_real_segment_still_shows_its_board(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/?scope=region:North")
    assert response.status_code == 200
    assert 'id="board-no-such-segment"' not in response.content.decode()
