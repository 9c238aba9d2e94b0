"""Webhooks: subscriptions, the events portals receive, signatures, allowed URLs and deliveries."""
