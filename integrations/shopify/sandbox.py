"""Seeded Shopify stores for tests, the demo and benchmarks, served by the simulator.

Realistic COD data: phone formats mixed per country (with and without country code, trunk
prefixes, MX `+52 1`, CL `09`, CO `03`), processed tags written by the fulfilment integrations
(and the `cheho` tag that the old substring match confused with `eh`), true duplicates and near
misses, an IP cluster whose IP is only in the `IP address` attribute (clientIp is the COD app's
server), an IPv6 cluster, cancelled orders, null SKUs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.clock import SYSTEM_CLOCK, Clock
from integrations.shopify.simulator import Bucket, Shop, ShopifySimulator, gid

if TYPE_CHECKING:
    from bot.sandbox.environment import DemoEnvironment

COD_APP_SERVER_IP = "35.190.21.8"
DEMO_TOKEN = "shpat_demo_0000000000000000"


@dataclass(frozen=True)
class Product:
    sku: str | None
    title: str
    price: Decimal
    product_num: int
    variant_num: int


PRODUCTS = (
    Product("KIT-CLAREADOR", "Kit Clareador Dental", Decimal("197.00"), 101, 1001),
    Product("FONE-BT-X9", "Fone Bluetooth X9", Decimal("149.90"), 102, 1002),
    Product("CINTA-MOD", "Cinta Modeladora", Decimal("129.00"), 103, 1003),
    Product(None, "Escova Alisadora 3 em 1", Decimal("159.00"), 104, 1004),
    Product("RELOGIO-SMART", "Relógio Smart D20", Decimal("99.90"), 105, 1005),
)

COUNTRIES: dict[str, dict[str, Any]] = {
    "BR": {"cc": "55", "currency": "BRL", "cities": ["São Paulo", "Rio de Janeiro", "Recife"]},
    "MX": {"cc": "52", "currency": "MXN", "cities": ["Ciudad de México", "Guadalajara"]},
    "CL": {"cc": "56", "currency": "CLP", "cities": ["Santiago", "Valparaíso"]},
    "CO": {"cc": "57", "currency": "COP", "cities": ["Bogotá", "Medellín"]},
    "HR": {"cc": "385", "currency": "EUR", "cities": ["Zagreb", "Split"]},
}


def national_number(country: str, rng: random.Random) -> str:
    if country == "BR":
        return f"{rng.choice([11, 21, 81, 31])}9{rng.randrange(10**7, 10**8)}"
    if country == "MX":
        return f"55{rng.randrange(10**7, 10**8)}"
    if country == "CL":
        return f"9{rng.randrange(10**7, 10**8)}"
    if country == "CO":
        return f"3{rng.randrange(10**8, 10**9)}"
    return f"9{rng.choice([1, 2, 5, 8])}{rng.randrange(10**6, 10**7)}"


def phone_variants(country: str, national: str) -> list[str]:
    """Ways customers and COD forms write the same number."""
    cc = COUNTRIES[country]["cc"]
    out = [f"+{cc}{national}", f"+{cc} {national[:2]} {national[2:]}", national]
    if country == "BR":
        out.append(f"({national[:2]}) {national[2:7]}-{national[7:]}")
    elif country == "MX":
        out += [f"+52 1 {national}", f"044 {national}", f"01 {national}"]
    elif country == "CL":
        out.append(f"0{national}")
    elif country == "CO":
        out += [f"0{national}", f"03{national}"]
    elif country == "HR":
        out.append(f"0{national}")
    return out


class StoreBuilder:
    """Builds GraphQL-shaped order records for one simulated shop."""

    def __init__(self, shop: Shop, country: str, now: datetime, seed: int) -> None:
        self.shop = shop
        self.country = country
        self.now = now
        self.rng = random.Random(seed)
        self.currency = COUNTRIES[country]["currency"]
        self._num = 1000 + seed % 97 * 100
        self._customer = 5000 + seed % 97 * 1000

    def customer(self) -> str:
        self._customer += 1
        return gid("Customer", self._customer)

    def order(
        self,
        *,
        age: timedelta,
        phone: str | None,
        product: Product | None = None,
        tags: list[str] | None = None,
        cancelled: bool = False,
        ip: str | None = None,
        ip_in_attribute: bool = True,
        customer_id: str | None = None,
        currency: str | None = None,
        extra_lines: int = 0,
    ) -> dict[str, Any]:
        rng = self.rng
        self._num += 1
        num = self._num
        created = self.now - age
        product = product or rng.choice(PRODUCTS)
        products = [product] + [rng.choice(PRODUCTS) for _ in range(extra_lines)]
        lines = [
            {
                "id": gid("LineItem", num * 10 + i),
                "sku": p.sku,
                "title": p.title,
                "quantity": 1,
                "variant": {"id": gid("ProductVariant", p.variant_num)},
                "product": {"id": gid("Product", p.product_num)},
            }
            for i, p in enumerate(products)
        ]
        total = sum((p.price for p in products), Decimal("0"))
        attrs = []
        client_ip: str | None = None
        if ip and ip_in_attribute:
            attrs.append({"key": "IP address", "value": ip})
            client_ip = COD_APP_SERVER_IP
        elif ip:
            client_ip = ip
        customer_id = customer_id or self.customer()
        first = rng.choice(["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabi", "Hugo"])
        last = rng.choice(["Silva", "Souza", "Lima", "Costa", "Pereira", "Gómez", "Horvat"])
        city = rng.choice(COUNTRIES[self.country]["cities"])
        record: dict[str, Any] = {
            "id": gid("Order", num * 7 + 5_000_000),
            "name": f"#{num}",
            "createdAt": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cancelledAt": (
                (created + timedelta(hours=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                if cancelled
                else None
            ),
            "tags": list(tags or []),
            "phone": None,
            "email": f"{first.lower()}.{num}@example.com",
            "clientIp": client_ip,
            "sourceName": "releasit_cod_form" if ip_in_attribute else "web",
            "displayFinancialStatus": "VOIDED" if cancelled else "PENDING",
            "displayFulfillmentStatus": "UNFULFILLED",
            "customAttributes": attrs,
            "customer": {
                "id": customer_id,
                "displayName": f"{first} {last}",
                "defaultPhoneNumber": None,
            },
            "shippingAddress": {
                "phone": phone,
                "countryCodeV2": self.country,
                "city": city,
                "province": None,
            },
            "billingAddress": {"phone": None, "countryCodeV2": self.country},
            "totalPriceSet": {
                "shopMoney": {"amount": f"{total:.2f}", "currencyCode": currency or self.currency}
            },
            "_lines": lines,
        }
        self.shop.orders[record["id"]] = record
        return record

    def random_ip(self) -> str:
        r = self.rng
        return (
            f"{r.randrange(100, 200)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
        )

    def background(self, count: int, days: int = 90) -> None:
        """Ordinary orders: unique customers, some processed, a few cancelled."""
        rng = self.rng
        for _ in range(count):
            age = timedelta(seconds=rng.randrange(60, days * 86400))
            national = national_number(self.country, rng)
            tags = rng.choice([[], [], ["order sent to dropi"], ["P COD"], ["vip"]])
            self.order(
                age=age,
                phone=rng.choice(phone_variants(self.country, national)),
                tags=tags,
                cancelled=rng.random() < 0.05,
                ip=self.random_ip(),
                ip_in_attribute=rng.random() < 0.7,
                extra_lines=1 if rng.random() < 0.15 else 0,
            )

    def planted_cases(self) -> None:
        """Duplicates and near misses the demo and tests talk about."""
        rng = self.rng
        # 1. A true duplicate: same phone written two ways, same SKU, nothing processed.
        nat = national_number(self.country, rng)
        variants = phone_variants(self.country, nat)
        cust = self.customer()
        self.order(age=timedelta(days=3), phone=variants[0], product=PRODUCTS[0], customer_id=cust)
        self.order(
            age=timedelta(days=2, hours=20),
            phone=variants[-1],
            product=PRODUCTS[0],
            customer_id=cust,
        )
        # 2. Processed order newer than the duplicate: the processed one is kept.
        nat = national_number(self.country, rng)
        cust = self.customer()
        self.order(
            age=timedelta(days=6),
            phone=f"+{COUNTRIES[self.country]['cc']}{nat}",
            product=PRODUCTS[1],
            customer_id=cust,
        )
        self.order(
            age=timedelta(days=5),
            phone=nat,
            product=PRODUCTS[1],
            tags=["Order Sent To Dropi"],
            customer_id=cust,
        )
        # 3. Tag-substring trap: `cheho` is not the processed tag `eh`.
        nat = national_number(self.country, rng)
        self.order(age=timedelta(days=4), phone=nat, product=PRODUCTS[2], tags=["cheho"])
        self.order(age=timedelta(days=4, hours=-3), phone=nat, product=PRODUCTS[2])
        # 4. Null SKU: matched by variant.
        nat = national_number(self.country, rng)
        self.order(age=timedelta(days=1), phone=nat, product=PRODUCTS[3])
        self.order(age=timedelta(hours=5), phone=nat, product=PRODUCTS[3])
        # 5. Near misses: same phone, different product; cancelled repeat.
        nat = national_number(self.country, rng)
        self.order(age=timedelta(days=2), phone=nat, product=PRODUCTS[4])
        self.order(age=timedelta(days=1), phone=nat, product=PRODUCTS[1])
        self.order(age=timedelta(hours=12), phone=nat, product=PRODUCTS[4], cancelled=True)
        # 6. Only the last 9 digits agree (different country code typed): `possible`.
        nat = national_number(self.country, rng)
        self.order(
            age=timedelta(days=2),
            phone=f"+{COUNTRIES[self.country]['cc']}{nat}",
            product=PRODUCTS[2],
        )
        self.order(age=timedelta(days=1), phone=f"+1{nat[-10:]}", product=PRODUCTS[2])
        # 7. An IP cluster: five customers behind one IP known only from the COD attribute.
        for i in range(5):
            self.order(
                age=timedelta(days=1 + i, hours=i),
                phone=national_number(self.country, rng),
                ip="187.45.210.77",
                ip_in_attribute=True,
                cancelled=i == 4,
            )
        # 8. IPv6 cluster from the checkout (clientIp).
        for i in range(3):
            self.order(
                age=timedelta(days=2, hours=i),
                phone=national_number(self.country, rng),
                ip=f"2804:14c:65:8001::{'A' if i else 'a'}",
                ip_in_attribute=False,
            )
        # 9. Same person re-buying from one IP: not suspicious.
        cust = self.customer()
        for i in range(3):
            self.order(
                age=timedelta(days=10 + i),
                phone=national_number(self.country, rng),
                ip="201.17.33.9",
                customer_id=cust,
            )


def seeded_simulator(
    *,
    clock: Clock = SYSTEM_CLOCK,
    seed: int = 42,
    specs_dir: str | None = None,
    orders_per_store: int = 150,
    restore_rate: float = 100.0,
    bucket: float = 2000.0,
) -> ShopifySimulator:
    """A simulator with three stores (BR, MX, HR) and their planted cases."""
    sim = ShopifySimulator(clock=clock, specs_dir=specs_dir)
    now = clock.now()
    for i, (domain, name, country) in enumerate(
        (
            ("chegou-br.myshopify.com", "Chegou Brasil", "BR"),
            ("chegou-mx.myshopify.com", "Chegou México", "MX"),
            ("chegou-hr.myshopify.com", "Chegou Hrvatska", "HR"),
        )
    ):
        shop = sim.add_shop(
            Shop(
                domain=domain,
                name=name,
                currency=COUNTRIES[country]["currency"],
                access_tokens={DEMO_TOKEN},
                client_id=f"client-{country.lower()}",
                client_secret=f"secret-{country.lower()}",
                bucket=Bucket(maximum=bucket, restore_rate=restore_rate, available=bucket),
            )
        )
        builder = StoreBuilder(shop, country, now, seed + i)
        builder.background(orders_per_store)
        builder.planted_cases()
    return sim


def demo_setup(env: DemoEnvironment) -> dict[str, Any]:
    """Start the Shopify simulator for `chegou-hub demo`; point three stores at it."""
    from integrations.runtime.harness import SimulatorServer

    sim = seeded_simulator(seed=env.seed)
    server = env.add_simulator("shopify", SimulatorServer(sim.app, name="shopify"))
    sim.base_url = server.base_url
    env.extras["shopify_simulator"] = sim
    stores: dict[str, Any] = {
        "br": {
            "shop_url": "chegou-br.myshopify.com",
            "access_token": DEMO_TOKEN,
            "display_name": "Chegou Brasil",
            "api_base_url": f"{server.base_url}/chegou-br.myshopify.com",
        },
        "mx": {
            "shop_url": "chegou-mx.myshopify.com",
            "client_id": "client-mx",
            "client_secret": "secret-mx",
            "display_name": "Chegou México",
            "time_zone": "America/Mexico_City",
            "api_base_url": f"{server.base_url}/chegou-mx.myshopify.com",
        },
        "hr": {
            "shop_url": "chegou-hr.myshopify.com",
            "access_token": DEMO_TOKEN,
            "display_name": "Chegou Hrvatska",
            "time_zone": "Europe/Zagreb",
            "api_base_url": f"{server.base_url}/chegou-hr.myshopify.com",
        },
    }
    return {"shopify_stores": stores}
