"""Shopify tables: per-store IP lists and the cancellation ledger (never cancel twice)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Column, Field, UniqueConstraint

from bot.db import SQLModel, UTCDateTime

IP_LISTS = ("allow", "watch", "resolved")


class ShopifyIpListEntry(SQLModel, table=True):
    """An IP on one store's allow-list, watch list or resolved list (one list per IP)."""

    __tablename__ = "shopify_ip_lists"
    __table_args__ = (UniqueConstraint("store", "ip", name="uq_shopify_ip_lists_store_ip"),)

    id: int | None = Field(default=None, primary_key=True)
    store: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    list_name: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=255)
    updated_by: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ShopifyCancellation(SQLModel, table=True):
    """One row per order the hub set out to cancel; the primary key makes it single-use."""

    __tablename__ = "shopify_cancellations"

    order_id: str = Field(primary_key=True, max_length=128)
    store: str = Field(max_length=64)
    order_name: str = Field(max_length=32)
    kept_order_id: str | None = Field(default=None, max_length=128)
    # claimed → cancel_requested → cancelled | failed | skipped
    status: str = Field(max_length=24)
    action_id: str | None = Field(default=None, max_length=64)
    requested_by: str | None = Field(default=None, max_length=32)
    job_id: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
