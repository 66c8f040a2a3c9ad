"""The domain: plain Python rules of tenancy, webhooks, workflows and delivery. No I/O."""
