"""Benchmark: `smstudio audit` over a domain of N profiles in the local emulator.

Target (issue 8): 2,000 profiles without exceeding the request-rate bound. Every guardrail of
the insights registry runs for every owner (through the audit's rate-limited clients). Prints the
requests the emulator served, the elapsed time, the observed rate against the limit, and how
many DescribeDomain / ListApps calls were made (once per audit, not per owner).

    /work/venv/bin/python bench/admin_audit.py [--profiles 2000] [--max-rps 250] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from smstudio_ext.admin.audit import AuditOptions, run_audit
from smstudio_ext.aws import AwsClients
from smstudio_ext.insights.config import Insights
from smstudio_ext.testing import Emulator, seed_world


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=2000)
    ap.add_argument("--max-rps", type=float, default=250.0)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(emu.env())
        world = seed_world(emu, kind="both")
        store = emu.store()
        with store.lock:
            for i in range(args.profiles):
                name = f"user-{i:05d}"
                store.create_user_profile(
                    {
                        "DomainId": world.domain_id,
                        "UserProfileName": name,
                        "Tags": [{"Key": "studiouserid", "Value": name}],
                    }
                )
        clients = AwsClients(
            emu.region,
            endpoint_urls={s: emu.endpoint_url for s in ("sagemaker", "pricing", "iam")},
        )
        emu.reset_counts()
        t0 = time.monotonic()
        report = run_audit(
            clients,
            AuditOptions(
                world.domain_id,
                concurrency=args.concurrency,
                max_rps=args.max_rps,
                insights=Insights(price_cache_path=os.path.join(tmp, "prices.json")),
            ),
        )
        elapsed = time.monotonic() - t0
        served = emu.count("sagemaker") + emu.count("pricing")
        s = report.summary()
        print(f"owners audited:       {s['profiles']} profiles, {s['spaces']} spaces")
        print(f"requests served:      {served} (client counted {s['requests']})")
        print(f"elapsed:              {elapsed:.2f} s")
        print(
            f"observed rate:        {served / elapsed:.1f} req/s (limit {args.max_rps}/s, burst 10)"
        )
        print(f"within bound:         {served <= args.max_rps * elapsed + 10}")
        print(f"checks:               {s['checks']}")
        print(
            f"DescribeDomain:       {emu.count('sagemaker', 'DescribeDomain')}, "
            f"ListApps: {emu.count('sagemaker', 'ListApps')}, "
            f"per operation: {dict(sorted(report.calls.items()))}"
        )


if __name__ == "__main__":
    main()
