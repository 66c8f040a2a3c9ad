"""Transport: gRPC servicers (proto <-> domain, nothing else) and the interceptor."""
