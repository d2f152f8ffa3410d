"""The hooks a plugin implements: one `register_<kind>(register)` per registry.

`register(name, factory, params)` adds a component; `params` is a `disentangle.Params`
subclass (the core adds the `type` tag), `factory(spec, ...)` builds the component.
`register_commands(cli)` adds commands to the CLI; `published_results()` returns the
literature's numbers a plugin keeps as data.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("disentangle")
hookimpl = pluggy.HookimplMarker("disentangle")


@hookspec
def register_methods(register):
    """Register training methods: factory(spec, setup: MethodSetup) -> Method."""


@hookspec
def register_codes(register):
    """Register latent-code distributions: factory(spec) -> LatentCode."""


@hookspec
def register_backbones(register):
    """Register backbones: factory(spec) -> Backbone."""


@hookspec
def register_datasets(register):
    """Register datasets: factory(spec) -> Dataset."""


@hookspec
def register_estimators(register):
    """Register mutual-information estimators: factory(spec, codes) -> MIEstimator."""


@hookspec
def register_metrics(register):
    """Register evaluation metrics: factory(spec) -> Metric."""


@hookspec
def register_commands(cli):
    """Add CLI commands: `cli` is the `disentangle` Typer app (commands or sub-apps)."""


@hookspec
def published_results():
    """Return numbers from the literature: `disentangle.Published` records (or mappings of
    their fields), which `disentangle report` sets beside the measured ones."""
