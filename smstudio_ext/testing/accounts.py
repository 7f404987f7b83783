"""Other AWS accounts in the one emulator, for multi-account tests and demos.

moto keeps every account's state apart and picks the account of a request from its credentials
(keys returned by ``AssumeRole`` belong to the role's account) or from the ``x-moto-account-id``
header. ``in_account(emu, "111122223333")`` is the same running emulator seen from that account:
its ``client()`` adds the header and its in-process helpers (``store()``, app times, Cost
Explorer results) use that account, so ``seed_world(in_account(emu, A))`` seeds a domain there.
The code under test never uses the header: it reaches other accounts with ``AssumeRole``.
"""

from __future__ import annotations

import copy
from typing import Any

from .emulator import Emulator


class AccountEmulator(Emulator):
    """An ``Emulator`` view bound to another account (see the module docstring)."""

    def client(self, service: str, region: str | None = None, **config: Any) -> Any:
        client = super().client(service, region, **config)
        account = self.account_id

        def add_header(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign", add_header)
        return client


def in_account(emu: Emulator, account_id: str) -> Emulator:
    """``emu`` (started) seen from ``account_id``: same server, faults and counts."""
    view = copy.copy(emu)
    view.__class__ = AccountEmulator
    view.account_id = account_id
    return view


def create_member_accounts(
    emu: Emulator, names: list[str], role_names: dict[str, str] | None = None
) -> dict[str, str]:
    """An organization (if none) with one new member account per name: {name: account id}.

    Organizations creates ``OrganizationAccountAccessRole`` in each, trusting the management
    account (``role_names`` gives another role name per account name)."""
    org = emu.client("organizations", region="us-east-1")
    try:
        org.create_organization(FeatureSet="ALL")
    except org.exceptions.AlreadyInOrganizationException:
        pass
    out = {}
    for name in names:
        params = {"AccountName": name, "Email": f"{name}@example.com"}
        if role_names and name in role_names:
            params["RoleName"] = role_names[name]
        status = org.create_account(**params)["CreateAccountStatus"]
        out[name] = status["AccountId"]
    return out
