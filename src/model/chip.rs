//! Accelerator types: what one chip computes, draws and costs.

/// Index of a chip type in [`crate::model::World::chips`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChipId(pub u32);

/// One accelerator type, with the figures the simulation uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Chip {
    /// Short name used in scenarios, e.g. `h100`, `ascend-910c`.
    pub name: String,
    /// Maker, e.g. `nvidia`, `huawei`.
    pub vendor: String,
    /// Country of the maker (ISO code), e.g. `US`, `CN`: decides what counts as a domestic chip.
    pub vendor_country: String,
    /// Dense BF16 peak, TFLOP/s.
    pub bf16_dense_tflops: f64,
    /// Accelerator memory, GB.
    pub memory_gb: f64,
    /// Board power, W.
    pub board_power_w: f64,
    /// All-in IT power per chip (host, network, storage share), W, before PUE.
    pub all_in_power_w: f64,
    /// Model-FLOPs utilisation in large training runs (0..1].
    pub training_mfu: f64,
    /// Decode throughput for the reference model, tokens/s per chip.
    pub inference_tokens_per_s: f64,
    /// Purchase price, USD per chip.
    pub purchase_usd: f64,
    /// Typical lease price, USD per chip-hour.
    pub lease_usd_per_chip_hour: f64,
    /// What an idle chip draws, as a fraction of its all-in power (0: idle chips draw nothing).
    pub idle_power_fraction: f64,
}

impl Chip {
    /// Effective training throughput: dense peak times MFU, FLOP/s per chip.
    pub fn effective_flop_per_s(&self) -> f64 {
        self.bf16_dense_tflops * 1e12 * self.training_mfu
    }
}
