//! Samples, summaries and the printed table.

use std::fmt::Write as _;

/// One row of the table.
pub struct Row {
    pub scenario: &'static str,
    pub figure: String,
    pub unit: &'static str,
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
    /// e.g. `p50 <= 10`; empty when the figure has no target.
    pub target: String,
    /// `None`: no target.
    pub met: Option<bool>,
}

impl Row {
    /// A row summarising `samples` (nearest-rank percentiles).
    pub fn samples(
        scenario: &'static str,
        figure: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
    ) -> Self {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            if s.is_empty() {
                f64::NAN
            } else {
                let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
                s[rank - 1]
            }
        };
        Self {
            scenario,
            figure: figure.into(),
            unit,
            n: s.len(),
            min: s.first().copied().unwrap_or(f64::NAN),
            median: pick(0.5),
            p99: pick(0.99),
            max: s.last().copied().unwrap_or(f64::NAN),
            target: String::new(),
            met: None,
        }
    }

    /// A single measured value.
    pub fn value(
        scenario: &'static str,
        figure: impl Into<String>,
        unit: &'static str,
        value: f64,
    ) -> Self {
        Self::samples(scenario, figure, unit, &[value])
    }

    /// Sets the target and whether it is met.
    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The table as Markdown (readable in a terminal, pasteable into BENCHMARKS.md).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | figure | unit | n | min | median | p99 | max | target | met |\n|---|---|---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let single = r.n == 1;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.figure,
            r.unit,
            r.n,
            if single { String::new() } else { num(r.min) },
            num(r.median),
            if single { String::new() } else { num(r.p99) },
            if single { String::new() } else { num(r.max) },
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    out
}
