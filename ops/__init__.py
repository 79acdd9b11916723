"""pyinfra facts and operations where pyinfra falls short, one module per domain, each domain's facts beside
its operations; the pure logic they use is in core/."""
