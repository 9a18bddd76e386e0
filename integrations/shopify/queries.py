"""Every GraphQL document the hub sends to the Shopify Admin API (validated in tests)."""

from __future__ import annotations

# Line items read per order in paged queries. COD orders rarely carry more than a few lines;
# the page size is derived from the measured requestedQueryCost, so raising this only makes
# pages smaller.
LINE_ITEMS_PER_ORDER = 10

ORDER_FIELDS = """
fragment OrderFields on Order {
  id
  name
  createdAt
  cancelledAt
  tags
  phone
  email
  clientIp
  sourceName
  displayFinancialStatus
  displayFulfillmentStatus
  customAttributes { key value }
  customer { id displayName defaultPhoneNumber { phoneNumber } }
  shippingAddress { phone countryCodeV2 city province }
  billingAddress { phone countryCodeV2 }
  totalPriceSet { shopMoney { amount currencyCode } }
}
"""

LINE_ITEM_FIELDS = "sku title quantity variant { id } product { id }"

ORDERS_PAGE = (
    """
query OrdersPage($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      ...OrderFields
      lineItems(first: LINES) { nodes { FIELDS } }
    }
  }
}
""".replace("LINES", str(LINE_ITEMS_PER_ORDER)).replace("FIELDS", LINE_ITEM_FIELDS)
    + ORDER_FIELDS
)

ORDER_BY_ID = (
    """
query OrderById($id: ID!) {
  node(id: $id) {
    ... on Order {
      ...OrderFields
      lineItems(first: LINES) { nodes { FIELDS } }
    }
  }
}
""".replace("LINES", str(LINE_ITEMS_PER_ORDER)).replace("FIELDS", LINE_ITEM_FIELDS)
    + ORDER_FIELDS
)

ACCESS_SCOPES = """
query AccessScopes {
  currentAppInstallation { accessScopes { handle } }
}
"""

SHOP_INFO = """
query ShopInfo {
  shop { name myshopifyDomain currencyCode ianaTimezone }
}
"""


def bulk_orders_query(search: str) -> str:
    """The inner query of a bulk operation (connections as edges/node, no `first`)."""
    quoted = search.replace("\\", "\\\\").replace('"', '\\"')
    return f"""
{{
  orders(query: "{quoted}", sortKey: CREATED_AT) {{
    edges {{
      node {{
        id name createdAt cancelledAt tags phone email clientIp sourceName
        displayFinancialStatus displayFulfillmentStatus
        customAttributes {{ key value }}
        customer {{ id displayName defaultPhoneNumber {{ phoneNumber }} }}
        shippingAddress {{ phone countryCodeV2 city province }}
        billingAddress {{ phone countryCodeV2 }}
        totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
        lineItems {{ edges {{ node {{ id {LINE_ITEM_FIELDS} }} }} }}
      }}
    }}
  }}
}}
"""


BULK_RUN = """
mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}
"""

BULK_STATUS = """
query BulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount rootObjectCount url partialDataUrl }
  }
}
"""

ORDER_CANCEL = """
mutation CancelOrder($orderId: ID!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(
    orderId: $orderId
    reason: OTHER
    restock: true
    notifyCustomer: $notifyCustomer
    staffNote: $staffNote
    refundMethod: { originalPaymentMethodsRefund: true }
  ) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

JOB_STATUS = """
query JobStatus($id: ID!) {
  job(id: $id) { id done }
}
"""

TAGS_ADD = """
mutation AddTags($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

ALL_DOCUMENTS: dict[str, str] = {
    "ORDERS_PAGE": ORDERS_PAGE,
    "ORDER_BY_ID": ORDER_BY_ID,
    "ACCESS_SCOPES": ACCESS_SCOPES,
    "SHOP_INFO": SHOP_INFO,
    "BULK_RUN": BULK_RUN,
    "BULK_STATUS": BULK_STATUS,
    "ORDER_CANCEL": ORDER_CANCEL,
    "JOB_STATUS": JOB_STATUS,
    "TAGS_ADD": TAGS_ADD,
}
