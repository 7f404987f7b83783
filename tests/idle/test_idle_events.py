"""Idle decisions as Jupyter events: the schema shipped in the package registers with the server's
event logger, and each decision reaches a client of GET /api/events/subscribe (the websocket
JupyterLab's IEventManager reads) with the fields of the JSON log line."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

from idle_support import wait_for
from jupyter_events import EventLogger
from jupyter_events.schema import EventSchema

from smstudio_ext import clock, events
from smstudio_ext.events import IDLE_DECISION_ID, EventPublisher, load_schema


async def next_event(ws, schema_id=IDLE_DECISION_ID, timeout=20.0):
    """The next message on the events websocket with this schema (others are skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout))
        if message.get("schema_id") == schema_id:
            return message


def test_the_shipped_schema_is_a_valid_jupyter_event_schema():
    schema = load_schema(events.IDLE_DECISION_SCHEMA)
    assert schema["$id"] == IDLE_DECISION_ID and IDLE_DECISION_ID.endswith("/v1")
    parsed = EventSchema(schema)  # validates against jupyter_events' metaschema
    assert {"at", "decision", "reason", "shutdown_at", "action"} <= set(parsed.properties)


def test_version_follows_what_the_installed_jupyter_events_wants(monkeypatch):
    # jupyter_events < 0.11 (SMD 2.0.0) requires an integer version and refuses a string
    from jupyter_events import validators

    assert isinstance(load_schema(events.IDLE_DECISION_SCHEMA)["version"], str)
    old = json.loads(json.dumps(validators.EVENT_METASCHEMA))
    old["properties"]["version"] = {"type": "integer"}
    monkeypatch.setattr(validators, "EVENT_METASCHEMA", old)
    assert load_schema(events.IDLE_DECISION_SCHEMA)["version"] == 1


async def test_each_decision_reaches_the_events_websocket(
    space, jp_serverapp, jp_ws_fetch, idle, capsys
):
    # Given a client subscribed to the server's events
    ws = await jp_ws_fetch("api", "events", "subscribe")
    try:
        # When the app has been idle long enough for a warning
        clock.travel(52 * 60)
        await idle.check()
        # Then the decision arrives as an event, with the fields of the JSON log line
        event = await next_event(ws)
        assert event["decision"] == "warning"
        assert event["app_name"] == space["app_name"] and event["app_type"] == "JupyterLab"
        assert event["shutdown_at"] and event["shutdown_at"].endswith("Z")
        assert event["dry_run"] is False and event["action"] is None
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
        (line,) = [x for x in lines if x.get("event") == "smstudio.idle.decision"]
        for key in ("at", "decision", "reason", "shutdown_at", "idle_seconds", "timeout_minutes"):
            assert event[key] == line[key], key
        # and the shutdown that follows the lead time too, with what DeleteApp did
        clock.travel(10 * 60)
        await idle.check()
        event = await next_event(ws)
        assert event["decision"] == "shutdown"
        assert event["action"]["outcome"] in ("deleted", "gone")
    finally:
        ws.close()


async def test_publishing_from_a_worker_thread_emits_on_the_server_loop(jp_serverapp, idle):
    publish = idle.log.events  # the decision log publishes each line (idle/report.py)
    assert isinstance(publish, EventPublisher)
    seen = []

    async def listener(logger, schema_id, data):
        seen.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=IDLE_DECISION_ID, listener=listener)
    try:
        line = {"at": clock.isoformat_z(clock.utcnow()), "decision": "idle", "reason": "r"}
        worker = threading.Thread(target=publish, args=(line,))
        worker.start()
        worker.join()
        await wait_for(lambda: seen)
        assert seen[0]["decision"] == "idle"
    finally:
        jp_serverapp.event_logger.remove_listener(listener=listener)


async def test_an_event_that_does_not_validate_is_logged_once_and_never_raises(caplog):
    logger = EventLogger()
    schema = load_schema(events.IDLE_DECISION_SCHEMA)
    logger.register_event_schema(schema)
    got = []

    async def listener(logger, schema_id, data):
        got.append(data)

    logger.add_listener(schema_id=IDLE_DECISION_ID, listener=listener)
    publish = EventPublisher(logger, schema)
    bad = {"at": "now", "decision": 5, "reason": "a number is not a decision"}
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        publish(bad)
        publish(bad)
    assert caplog.text.count("cannot emit") == 1
    # fields outside the schema are not published; a good event goes through again
    publish({"at": "now", "decision": "idle", "reason": "ok", "event": "smstudio.idle.decision"})
    await wait_for(lambda: got)
    assert got == [{"at": "now", "decision": "idle", "reason": "ok"}]


def test_a_server_without_an_event_logger_gets_no_publisher():
    class OldServer:  # jupyter_server < 2 had no event bus
        pass

    assert events.idle_decision_publisher(OldServer()) is None


async def test_the_schema_is_registered_once_per_server(jp_serverapp, idle):
    assert IDLE_DECISION_ID in jp_serverapp.event_logger.schemas
    # a second extension app in the same server (or a reload) finds it registered
    assert events.idle_decision_publisher(jp_serverapp) is not None
