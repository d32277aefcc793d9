from reconciler.cli.entry import run

run()
