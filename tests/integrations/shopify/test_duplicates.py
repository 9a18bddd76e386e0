"""The duplicate rule and its edges (see docs/user-guides/shopify-duplicados.md)."""

from __future__ import annotations

from integrations.shopify.duplicates import find_duplicates, normalize_title
from tests.integrations.shopify.fixtures import NOW, mk_order


def run(orders, **kw):  # type: ignore[no-untyped-def]
    return find_duplicates(orders, now=NOW, window_days=kw.pop("window_days", 30), **kw)


def test_same_phone_in_two_formats_and_same_sku_is_a_certain_duplicate() -> None:
    a = mk_order(hours_ago=48, phone="+385 91 234 5678", country="HR")
    b = mk_order(hours_ago=2, phone="091 234 5678", country="HR")
    report = run([b, a])
    assert len(report.findings) == 1
    f = report.findings[0]
    assert (f.confidence, f.match, f.phone) == ("certain", "sku", "+385912345678")
    assert f.kept.id == a.id and not f.kept.processed  # none processed: oldest kept
    assert [d.id for d in f.duplicates] == [b.id]
    assert f.duplicates[0].days_after_kept == round(46 / 24, 2)
    assert f.cancellable


def test_mexican_mobile_prefix_and_old_dialling_prefix_match() -> None:
    a = mk_order(hours_ago=30, phone="+52 1 55 1234 5678", country="MX")
    b = mk_order(hours_ago=3, phone="044 55 1234 5678", country="MX")
    assert [d.id for d in run([a, b]).findings[0].duplicates] == [b.id]


def test_null_sku_falls_back_to_variant_then_product_then_title() -> None:
    a = mk_order(hours_ago=5, sku=None)
    b = mk_order(hours_ago=4, sku=None)
    assert run([a, b]).findings[0].match == "variant"
    c = mk_order(hours_ago=5, sku=None, variant=None)
    d = mk_order(hours_ago=4, sku=None, variant=None)
    assert run([c, d]).findings[0].match == "product"
    e = mk_order(hours_ago=5, sku=" ", variant=None, product=None, title="Kit  Clareador!")
    f = mk_order(hours_ago=4, sku=None, variant=None, product=None, title="kit clareador")
    finding = run([e, f]).findings[0]
    assert finding.match == "title"
    assert normalize_title("Relógio  SMART-D20") == "relogio smart d20"


def test_different_products_are_not_duplicates() -> None:
    a = mk_order(hours_ago=5, sku="A")
    b = mk_order(hours_ago=4, sku="B", variant="gid://shopify/ProductVariant/2")
    assert run([a, b]).findings == []


def test_tag_substring_is_not_processed_but_whole_tag_any_case_is() -> None:
    older = mk_order(hours_ago=10, tags=("cheho",))  # contains "eh" but is not the tag "eh"
    newer = mk_order(hours_ago=5)
    f = run([older, newer]).findings[0]
    assert not f.kept.processed and f.kept.id == older.id
    assert [d.id for d in f.duplicates] == [newer.id]
    shipped = mk_order(hours_ago=10, tags=("  Order Sent To DROPI ",))
    again = mk_order(hours_ago=5)
    g = run([shipped, again]).findings[0]
    assert g.kept.processed and g.kept.id == shipped.id


def test_a_processed_order_newer_than_the_duplicate_is_kept() -> None:
    pending = mk_order(hours_ago=50)
    processed = mk_order(hours_ago=10, tags=("P COD",))
    f = run([pending, processed]).findings[0]
    assert f.kept.id == processed.id and f.kept.processed
    assert [d.id for d in f.duplicates] == [pending.id]
    assert f.duplicates[0].days_after_kept < 0


def test_the_most_recent_processed_order_is_kept_and_processed_ones_never_flagged() -> None:
    p1 = mk_order(hours_ago=60, tags=("eh",))
    p2 = mk_order(hours_ago=40, tags=("prime cod",))
    pending = mk_order(hours_ago=5)
    f = run([p1, p2, pending]).findings[0]
    assert f.kept.id == p2.id
    assert [d.id for d in f.duplicates] == [pending.id]


def test_all_processed_is_not_a_finding() -> None:
    a = mk_order(hours_ago=10, tags=("eh",))
    b = mk_order(hours_ago=5, tags=("dropi sync error",))
    assert run([a, b]).findings == []


def test_custom_processed_tags_per_store() -> None:
    a = mk_order(hours_ago=10, tags=("enviado",))
    b = mk_order(hours_ago=5)
    f = run([a, b], processed_tags=["Enviado"]).findings[0]
    assert f.kept.processed


def test_cancelled_orders_are_ignored() -> None:
    a = mk_order(hours_ago=10)
    b = mk_order(hours_ago=5, cancelled=True)
    assert run([a, b]).findings == []
    c = mk_order(hours_ago=10, cancelled=True, tags=("eh",))
    d = mk_order(hours_ago=5)
    e = mk_order(hours_ago=4)
    f = run([c, d, e]).findings[0]
    assert f.kept.id == d.id  # the cancelled processed order does not count as kept


def test_window_edges() -> None:
    inside = mk_order(hours_ago=30 * 24)  # exactly at the window start: included
    outside = mk_order(hours_ago=30 * 24 + 0.001)
    recent = mk_order(hours_ago=1)
    assert [f.kept.id for f in run([inside, recent]).findings] == [inside.id]
    assert run([outside, recent]).findings == []
    # a shorter window drops the older order
    a = mk_order(hours_ago=3 * 24)
    b = mk_order(hours_ago=1)
    assert run([a, b], window_days=2).findings == []
    assert len(run([a, b], window_days=3).findings) == 1


def test_last_nine_digits_only_is_possible_and_not_cancellable() -> None:
    a = mk_order(hours_ago=10, phone="+55 11 98765 4321", country="BR")
    b = mk_order(hours_ago=5, phone="+1 1198765 4321", country="BR")  # wrong country code typed
    report = run([a, b])
    assert len(report.findings) == 1
    f = report.findings[0]
    assert (f.confidence, f.match, f.phone) == ("possible", "phone_suffix", "987654321")
    assert not f.cancellable
    assert report.certain == []


def test_possible_findings_do_not_repeat_certain_duplicates() -> None:
    a = mk_order(hours_ago=10, phone="+5511987654321")
    b = mk_order(hours_ago=5, phone="(11) 98765-4321")
    c = mk_order(hours_ago=4, phone="+1 1198765 4321")
    report = run([a, b, c])
    certain = [f for f in report.findings if f.confidence == "certain"]
    possible = [f for f in report.findings if f.confidence == "possible"]
    assert [d.id for d in certain[0].duplicates] == [b.id]
    assert [d.id for d in possible[0].duplicates] == [c.id]


def test_orders_without_phone_are_skipped() -> None:
    assert run([mk_order(phone=None), mk_order(phone=None)]).findings == []


def test_json_shape() -> None:
    a = mk_order(hours_ago=10)
    b = mk_order(hours_ago=5)
    data = run([a, b], store="br").to_json()
    assert set(data) == {"store", "window_days", "generated_at", "findings"}
    finding = data["findings"][0]  # type: ignore[index]
    assert set(finding) == {
        "phone",
        "product",
        "match",
        "confidence",
        "kept_order",
        "duplicates",
    }
    assert set(finding["product"]) == {"sku", "title"}
    assert set(finding["kept_order"]) == {"id", "name", "created_at", "processed"}
    assert set(finding["duplicates"][0]) == {"id", "name", "created_at", "days_after_kept"}
    assert finding["kept_order"]["created_at"].endswith("+00:00")


def test_an_order_with_two_products_is_matched_per_product() -> None:
    from dataclasses import replace

    from integrations.shopify.orders import LineItem

    a = mk_order(hours_ago=10, sku="A")
    two = mk_order(hours_ago=5, sku="A")
    two = replace(two, lines=(*two.lines, LineItem(sku="B", title="Outro")))
    b = mk_order(hours_ago=3, sku="B")
    findings = run([a, two, b]).findings
    assert sorted((f.sku, f.kept.id) for f in findings) == [("A", a.id), ("B", two.id)]
