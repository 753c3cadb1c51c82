"""One builder per approach; every model maps (batch, input_steps, series) to
(batch, horizon, series). Builders are named by `_target_` in conf/arch/*.yaml."""
