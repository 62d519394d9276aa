"""Request bodies of the Nova API, validated as Nova's JSON schemas validate them.

Unknown attributes are refused (``Additional properties are not allowed``).
Rules that depend on the microversion (``networks`` required from 2.37,
``description`` from 2.19, ``tags`` from 2.52) are checked by the handlers.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_USER_DATA = 65535
# Shell metacharacters and control characters are refused in names: a name
# becomes an instance's hostname on a host (decision 061).
_FORBIDDEN_IN_NAME = re.compile(r"[`$;&|<>\\'\"(){}\x00-\x1f\x7f]")


def check_name(value: str) -> str:
    if not value or value != value.strip():
        raise ValueError("Name must be 1-255 characters without leading or trailing "
                         "whitespace")
    if _FORBIDDEN_IN_NAME.search(value):
        raise ValueError("Name may not contain shell metacharacters or control characters "
                         "(` $ ; & | < > \\ ' \" ( ) { })")
    return value


Name = Annotated[str, Field(min_length=1, max_length=255)]
MetaKey = Annotated[str, Field(min_length=1, max_length=255)]
Metadata = dict[MetaKey, Annotated[str, Field(max_length=255)]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NetworkRequest(Strict):
    uuid: Annotated[str, Field(max_length=36)] | None = None
    port: Annotated[str, Field(max_length=36)] | None = None
    fixed_ip: str | None = None
    tag: Annotated[str, Field(max_length=60)] | None = None


class SecurityGroupRef(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]


class ServerCreate(Strict):
    name: Name
    imageRef: str = ""
    flavorRef: str | int
    networks: list[NetworkRequest] | Literal["auto", "none"] | None = None
    user_data: Annotated[str, Field(max_length=MAX_USER_DATA)] | None = None
    availability_zone: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    metadata: Metadata = {}
    key_name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    security_groups: list[SecurityGroupRef] | None = None
    config_drive: bool | Literal["", "True", "False", "true", "false"] | None = None
    min_count: Annotated[int, Field(ge=1, le=10)] = 1
    max_count: Annotated[int, Field(ge=1, le=10)] | None = None
    return_reservation_id: bool = False
    description: Annotated[str, Field(max_length=255)] | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = None
    adminPass: str | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")
    block_device_mapping_v2: list[dict[str, Any]] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("user_data")
    @classmethod
    def _user_data(cls, value: str | None) -> str | None:
        if value is not None:
            decode_user_data(value)
        return value


def decode_user_data(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("User data needs to be valid base 64.") from exc


class ServerCreateBody(Strict):
    server: ServerCreate
    scheduler_hints: dict[str, Any] | None = Field(None, alias="os:scheduler_hints")


class ServerUpdate(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(None, alias="OS-DCF:diskConfig")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_name(value) if value is not None else None


class ServerUpdateBody(Strict):
    server: ServerUpdate


class MetadataBody(Strict):
    metadata: Metadata


class MetaItemBody(Strict):
    meta: Metadata


class FixedIp(Strict):
    ip_address: str


class InterfaceAttachment(Strict):
    port_id: Annotated[str, Field(max_length=36)] | None = None
    net_id: Annotated[str, Field(max_length=36)] | None = None
    fixed_ips: list[FixedIp] | None = Field(None, max_length=1)
    tag: Annotated[str, Field(max_length=60)] | None = None


class InterfaceAttachmentBody(Strict):
    interfaceAttachment: InterfaceAttachment


class AgentReport(Strict):
    """What a host agent reports about a server it runs."""

    status: Literal["ACTIVE", "ERROR", "SHUTOFF"] | None = None
    power_state: Annotated[int, Field(ge=0, le=7)] | None = None
    fault: Annotated[str, Field(max_length=4096)] | None = None
    console_log: str | None = None


class AgentReportBody(Strict):
    server: AgentReport
