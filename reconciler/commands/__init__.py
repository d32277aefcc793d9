"""CLI commands beyond the core ones, one module each; every module defines ``register(main)``,
which adds its click commands to the ``ipamctl`` group (see :func:`reconciler.cli.load_commands`)."""
