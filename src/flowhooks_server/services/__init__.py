"""Application services: each use case runs domain rules over storage in one transaction.
Servicers call these; these never see protobuf."""
