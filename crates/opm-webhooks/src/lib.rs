//! Webhooks: change events posted to configured endpoints, signed with HMAC-SHA256, retried with backoff.
