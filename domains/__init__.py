"""clipzoo.domains: the verticals. Each registers itself under the ``clipzoo.domains`` entry-point group."""
