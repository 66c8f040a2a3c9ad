"""flowhooks: the webhooks-and-events service of a workflow platform."""

__version__ = "0.1.0"
