from __future__ import annotations

from decimal import Decimal

from integrations.shopify.ips import extract_ip, ip_report, normalize_ip
from tests.integrations.shopify.fixtures import NOW, mk_order


def report(orders, **kw):  # type: ignore[no-untyped-def]
    return ip_report(orders, now=NOW, days=kw.pop("days", 30), **kw)


def test_ip_from_the_cod_attribute_wins_over_client_ip_and_source_is_recorded() -> None:
    o = mk_order(ip="187.45.210.77", client_ip="35.190.21.8")
    assert extract_ip(o, ["attribute:IP address", "clientIp"]) == (
        "187.45.210.77",
        "attribute:IP address",
    )
    o2 = mk_order(client_ip="201.1.2.3")
    assert extract_ip(o2, ["attribute:IP address", "clientIp"]) == ("201.1.2.3", "clientIp")
    assert extract_ip(mk_order(ip="not-an-ip"), ["attribute:ip ADDRESS"]) is None


def test_ipv6_is_normalised_and_grouped() -> None:
    assert normalize_ip("2804:014C:0065:8001:0000:0000:0000:000A") == "2804:14c:65:8001::a"
    assert normalize_ip("::ffff:187.45.210.77") == "187.45.210.77"
    assert normalize_ip("[2804:14c:65:8001::a]") == "2804:14c:65:8001::a"
    orders = [
        mk_order(client_ip="2804:14c:65:8001::A", phone="+5511911111111"),
        mk_order(client_ip="2804:14C:65:8001:0:0:0:a", phone="+5511922222222"),
    ]
    r = report(orders)
    assert [e.ip for e in r.entries] == ["2804:14c:65:8001::a"]
    assert r.entries[0].sources == {"clientIp"}


def test_suspicious_needs_min_orders_and_more_than_one_customer() -> None:
    same = [mk_order(ip="10.0.0.1", customer="gid://shopify/Customer/9") for _ in range(4)]
    assert report(same).entries == []
    two = [mk_order(ip="10.0.0.2"), mk_order(ip="10.0.0.2")]
    assert [e.ip for e in report(two).entries] == ["10.0.0.2"]
    assert report(two, min_orders=3).entries == []


def test_counts_active_cancelled_customers_and_times() -> None:
    orders = [
        mk_order(ip="187.45.210.77", hours_ago=50, total="100.00"),
        mk_order(ip="187.45.210.77", hours_ago=20, total="50.50"),
        mk_order(ip="187.45.210.77", hours_ago=10, total="70.00", cancelled=True),
    ]
    entry = report(orders).entries[0]
    data = entry.to_json()
    assert data["orders"] == 3 and data["active_orders"] == 2 and data["cancelled_orders"] == 1
    assert data["distinct_customers"] == 3
    assert data["total_value"] == "150.50" and data["currency"] == "BRL"
    assert data["first_order_at"] == orders[0].created_at.isoformat()
    assert data["last_order_at"] == orders[2].created_at.isoformat()
    assert data["order_ids"] == [o.id for o in orders]


def test_multi_currency_totals_are_kept_per_currency() -> None:
    orders = [
        mk_order(ip="1.1.1.1", total="100.00", currency="EUR"),
        mk_order(ip="1.1.1.1", total="30.00", currency="EUR"),
        mk_order(ip="1.1.1.1", total="500.00", currency="BRL"),
    ]
    entry = report(orders).entries[0]
    assert entry.totals == {"EUR": Decimal("130.00"), "BRL": Decimal("500.00")}
    data = entry.to_json()
    assert data["currency"] == "EUR" and data["total_value"] == "130.00"
    assert data["totals"] == {"BRL": "500.00", "EUR": "130.00"}


def test_allowed_and_resolved_are_left_out_and_watched_are_flagged() -> None:
    orders = [mk_order(ip=ip) for ip in ("1.1.1.1", "1.1.1.1", "2.2.2.2", "2.2.2.2")]
    orders += [mk_order(ip="3.3.3.3"), mk_order(ip="3.3.3.3")]
    r = report(orders, excluded_ips=["1.1.1.1"], watched_ips=["2.2.2.2"])
    assert [e.ip for e in r.entries] == ["2.2.2.2", "3.3.3.3"]
    assert r.entries[0].watching and not r.entries[1].watching
    assert r.excluded == 1


def test_no_prefix_filtering_and_period_limit() -> None:
    # 3.x / 52.x / 104.x are real customers too: never dropped by prefix
    orders = [mk_order(ip="52.67.1.2"), mk_order(ip="52.67.1.2")]
    assert [e.ip for e in report(orders).entries] == ["52.67.1.2"]
    old = [mk_order(ip="9.9.9.9", hours_ago=24 * 40), mk_order(ip="9.9.9.9", hours_ago=24 * 41)]
    assert report(old, days=30).entries == []
    assert len(report(old, days=60).entries) == 1


def test_ipv6_fast_path_agrees_with_ipaddress() -> None:
    """`normalize_ip` skips `ipaddress` for IPv6 already in normal form: same answer always."""
    import ipaddress
    import random
    import sys

    from integrations.shopify import ips

    if sys.platform.startswith("linux"):
        assert ips._SYSTEM_V6_IS_CANONICAL  # glibc writes RFC 5952: the fast path is taken
    rng = random.Random(11)
    forms = [
        "::ffff:1.2.3.4",
        "::FFFF:0102:0304",
        "::102:304",
        "[2001:db8::1]",
        "fe80::1%eth0",
        " 2001:db8::1 ",
        "1:0:0:4:5:0:0:8",
        "1::4:5:0:0:8",
        "1:2:3:4:5:6:7:8:9",
        "2001:db8::g",
    ]
    for _ in range(5000):
        words = [rng.choice([0, 0, 0, rng.randrange(1, 0x10000)]) for _ in range(8)]
        addr = ipaddress.IPv6Address(b"".join(w.to_bytes(2, "big") for w in words))
        forms += [str(addr), addr.exploded, str(addr).upper()]
    for form in forms:
        assert ips.normalize_ip(form) == ips._normalize_ip(form), form
