"""pyinfra facts and operations where pyinfra falls short; the pure logic they use is in core/."""
