"""Our own pyinfra facts and operations, and the deploy's data validation, where pyinfra falls short."""
