"""Fixtures for API tests: fresh tenants with tokens holding every tenant permission."""

from __future__ import annotations

import pytest
from tenancy import Tenant, make_tenant


@pytest.fixture
async def tenant(rest, stack) -> Tenant:
    return await make_tenant(rest, stack.bootstrap_token)


@pytest.fixture
async def other_tenant(rest, stack) -> Tenant:
    return await make_tenant(rest, stack.bootstrap_token)
