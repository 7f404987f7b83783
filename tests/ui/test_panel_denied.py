"""A permission the role lacks shows "Not available" in its own section only.

The demo runs with `--deny ListTags` (the emulator answers AccessDenied to sagemaker:ListTags), so
the Tags section cannot read any tag; every other section keeps working.
"""

from __future__ import annotations

import pytest

from .conftest import open_panel, start_demo, wait_settled

pytestmark = pytest.mark.browser

SECTIONS = ("context", "idle", "cost", "tags", "guardrails", "backup", "conda")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = start_demo(tmp_path_factory.mktemp("demo-denied"), "--deny", "ListTags")
    yield d
    d.stop()


def test_denied_list_tags_makes_only_the_tags_section_not_available(browser, demo):
    if not demo.has("insights?parts=tags"):
        pytest.skip("the insights engine is not in this build")
    status, data = demo.api("GET", "smstudio/insights?parts=tags")
    assert status == 200
    assert data["tags"] == []  # precondition: the fault is in place
    page = open_panel(browser, demo)
    try:
        tags = wait_settled(page, "tags")
        assert "jp-smstudio-mod-unavailable" in tags.get_attribute("class")
        assert "Not available: permission missing (sagemaker:ListTags)" in tags.inner_text()
        for sid in SECTIONS:
            sec = wait_settled(page, sid)
            if sid == "tags" or not demo.has(_route(sid)):
                continue
            assert "Not available" not in sec.inner_text(), sid
            state = sec.get_attribute("class")
            assert "jp-smstudio-mod-ready" in state or "jp-smstudio-mod-empty" in state, sid
    finally:
        page.close()


def _route(section_id: str) -> str:
    return {
        "context": "context",
        "idle": "idle",
        "cost": "insights?parts=costs",
        "tags": "insights?parts=tags",
        "guardrails": "insights?parts=guardrails",
        "backup": "backup",
        "conda": "conda/envs",
    }[section_id]
