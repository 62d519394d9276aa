"""The admin's amphora delete (Octavia's rule: only an amphora in ERROR), through the
API and the controller: its server and ports go, the row ends DELETED."""

from __future__ import annotations

from controller_testing import Rig
from lb_testing import fault

from tricircle_lb.loadbalancer import models

POLICY = "Policy does not allow this request to be performed."


def _set_status(rig: Rig, amphora_id: str, status: str) -> None:
    with rig.state.db.write() as session:
        amp = session.get(models.Amphora, amphora_id)
        assert amp is not None
        amp.status = status


def test_only_an_amphora_in_error_is_deleted_and_only_by_an_admin(rig: Rig) -> None:
    lb = rig.active_lb()
    [amp] = rig.amphorae(lb["id"])
    path = f"/v2/octavia/amphorae/{amp.id}"
    admin = rig.cloud.lb(token="admin-token")
    assert fault(admin.delete(path), 409) == f"amphora {amp.id} is immutable and cannot be " \
        "updated."
    _set_status(rig, amp.id, "ERROR")
    for token in ("demo-token", "alt-token", "reader-token"):
        assert fault(rig.cloud.lb(token=token).delete(path), 403) == POLICY
    assert admin.delete(path).status_code == 204
    assert rig.api("GET", path, 200, token="admin-token")["amphora"]["status"] == \
        "PENDING_DELETE"
    assert rig.run() == 1
    assert rig.compute.servers == {}
    assert [n for n in rig.port_names() if amp.id in n] == []
    [row] = rig.amphorae()
    assert (row.status, row.loadbalancer_id) == ("DELETED", None)
    assert fault(admin.delete(path), 404) == f"Amphora {amp.id} not found."
    assert fault(admin.delete("/v2/octavia/amphorae/nothing"), 404) == \
        "Amphora nothing not found."
