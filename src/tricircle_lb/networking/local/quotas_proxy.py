"""A region's ``/v2.0/quotas``: quotas live at central, so the region asks it."""

from __future__ import annotations

from typing import Any

from tricircle_lb.common.context import Context
from tricircle_lb.networking.client import seg
from tricircle_lb.networking.local.central_client import CentralClient

Body = dict[str, Any]


class CentralQuotas:
    def __init__(self, central: CentralClient) -> None:
        self.central = central

    def show(self, ctx: Context, project_id: str) -> Body:
        return self.central.request("GET", f"/v2.0/quotas/{seg(project_id)}", ctx.token)

    def default(self, ctx: Context, project_id: str) -> Body:
        return self.central.request("GET", f"/v2.0/quotas/{seg(project_id)}/default", ctx.token)

    def details(self, ctx: Context, project_id: str) -> Body:
        return self.central.request("GET", f"/v2.0/quotas/{seg(project_id)}/details", ctx.token)

    def list(self, ctx: Context) -> Body:
        return self.central.request("GET", "/v2.0/quotas", ctx.token)

    def update(self, ctx: Context, project_id: str, changes: dict[str, int]) -> Body:
        return self.central.request(
            "PUT", f"/v2.0/quotas/{seg(project_id)}", ctx.token, body={"quota": changes}
        )

    def reset(self, ctx: Context, project_id: str) -> None:
        self.central.request("DELETE", f"/v2.0/quotas/{seg(project_id)}", ctx.token)
