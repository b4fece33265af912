"""clipzoo.cli: the ``clipzoo`` command and the jobs it runs."""
