"""The WooCommerce connection: a read-only client of the shop's REST API (v3), the cache of a
customer's orders it fills, and the tasks that refresh it in the background.

The agent screen reads the cache only (``selectors``); the shop is called by tasks
(``tasks``) and by the admin's "Test connection" (``services.woo_connection_test``).
"""
