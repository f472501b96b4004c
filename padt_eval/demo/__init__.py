"""The demo and the test scaffolding: synthetic data, the colour-finder, the demo run.

Only the layers above it import this package (the import-linter contract holds it): the
CLI's `demo` command imports it when it runs, and the CLI lists `colour_finder` as a
family module (`core.family_modules`), so the `colour-finder` family is registered from
here, never named by models/."""
