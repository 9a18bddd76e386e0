"""External services: one package per service, plus the shared runtime."""
