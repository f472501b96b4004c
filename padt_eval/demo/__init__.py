"""The demo and the test scaffolding: synthetic data, tiny-model builders, the colour-finder.

The product code never imports this package (an import-linter contract holds it); the CLI's
`demo` command imports it when it runs, and the `colour-finder` family is registered by
module name."""
