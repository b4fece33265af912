"""clipzoo.core: the shared contrastive core. It knows no domain; domains plug in through `clipzoo.core.domain`."""
