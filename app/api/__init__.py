"""HTTP routers: parse, authorise, call one service, shape the response."""
