from tests.integrations.shopify.fixtures import (  # noqa: F401 (pytest fixtures)
    make_shop_hub,
    shop_hub,
    shopify_sim,
)
