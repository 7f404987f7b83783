"""How long the report takes to read CloudTrail: N app stops and starts in the emulator's event
history, read under the report's bound (1.5 lookups per second per account and region, 50 events
per page) while the emulator throttles above 2 per second as CloudTrail does.

    .venv/bin/python bench/report_trail.py [--events 2000] [--days 90]

Prints requests, seconds, lookups per second (target: < 2, and no throttled retries) and events
per second (the ceiling the rate bound implies: 1.5 x 50 = 75).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

from smstudio_ext import clock
from smstudio_ext.admin.report.trail import TrailReader
from smstudio_ext.aws import USER_AGENT, AwsClients
from smstudio_ext.testing import Emulator, cloudtrail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="stops (each with its start)")
    parser.add_argument("--days", type=float, default=90.0)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with Emulator() as emu:
        now = clock.utcnow()
        step = timedelta(days=args.days) / (args.events + 1)
        events = []
        for i in range(args.events):
            stop = now - step * (i + 1)
            for name, when in (("CreateApp", stop - step / 2), ("DeleteApp", stop)):
                events.append(
                    cloudtrail.app_event(
                        name, when, account_id=emu.account_id, region=emu.region,
                        domain_id="d-bench", app_type="JupyterLab", app_name="default",
                        space_name=f"space-{i % 50}", instance_type="ml.t3.medium",
                        user_agent=USER_AGENT,
                    )
                )  # fmt: skip
        cloudtrail.put_events(emu.account_id, emu.region, events)
        clients = AwsClients(emu.region, endpoint_urls={"cloudtrail": emu.endpoint_url})
        t0 = time.monotonic()
        result = TrailReader(clients).read(clock.utcnow(), args.days)
        elapsed = time.monotonic() - t0
    print(f"events read        {len(result.events)} ({result.status})")
    print(f"requests           {result.requests} (throttled retries {result.throttled})")
    print(f"seconds            {elapsed:.1f}")
    print(f"lookups per second {result.requests / elapsed:.2f} (CloudTrail's limit: 2)")
    print(f"events per second  {len(result.events) / elapsed:.0f}")


if __name__ == "__main__":
    main()
