//! `spool-plot`: the scaling figures the README links, drawn as SVG from the
//! CSV files of `benches/writers.sh` and `benches/curve.sh`, with the plotted
//! medians printed as a markdown table on stdout.
//!
//! ```text
//! spool-plot writers CSV OUT.svg       # system,writers,rep,records_per_s,fsyncs,records
//! spool-plot connections CSV OUT.svg   # system,connections,rep,requests_per_s,records_per_s,p50_us,p99_us
//! ```
//!
//! Columns are found by their header names. Every point is the median of all
//! rows of one system at one x (whatever their `rep`); both axes are
//! logarithmic, so equal ratios are equal distances. The single-thread fsync
//! baselines of `writers` (measured at 1 writer only) are drawn as dashed
//! horizontal lines. Text is written as SVG `<text>`, so no font files are
//! needed; a point whose median is not above zero cannot be drawn on a log
//! axis and is left out of the figure (named on stderr), not the table.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use plotters::coord::Shift;
use plotters::prelude::*;
use spool_benches::median;

const USAGE: &str = "usage: spool-plot writers CSV OUT.svg
       spool-plot connections CSV OUT.svg";

/// The values of one CSV column: system -> x -> one value per run.
type Runs = BTreeMap<String, BTreeMap<u32, Vec<f64>>>;

/// Medians of [`Runs`]: system -> x -> median.
type Medians = BTreeMap<String, BTreeMap<u32, f64>>;

/// Reads column `value` of the CSV `text` by system and by column `x`.
/// Rows whose `value` field is empty are skipped (e.g. `fsyncs` of systems
/// that do not report them).
fn read_runs(text: &str, x: &str, value: &str) -> Result<Runs, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.1.split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(format!("no column {name:?} in the header {header:?}"))
    };
    let (system_col, x_col, value_col) = (column("system")?, column(x)?, column(value)?);
    let mut runs = Runs::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let line_no = i + 1;
        if fields.len() != header.len() {
            return Err(format!(
                "line {line_no}: {} fields, the header has {}",
                fields.len(),
                header.len()
            ));
        }
        if fields[value_col].is_empty() {
            continue;
        }
        let xv: u32 = fields[x_col]
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!(
                "line {line_no}: {x} {:?} is not a whole number above 0",
                fields[x_col]
            ))?;
        // Both axes are logarithmic: only positive, finite values can be
        // drawn (an infinite one would make the tick loop endless). A 0 is
        // a run that measured nothing (a peer that failed): left out.
        let v: f64 = fields[value_col]
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or(format!(
                "line {line_no}: {value} {:?} is not a positive finite number",
                fields[value_col]
            ))?;
        if v == 0.0 {
            continue;
        }
        runs.entry(fields[system_col].to_owned())
            .or_default()
            .entry(xv)
            .or_default()
            .push(v);
    }
    if runs.is_empty() {
        return Err("no data rows".into());
    }
    Ok(runs)
}

/// The median of every system at every x.
fn medians(runs: &Runs) -> Medians {
    runs.iter()
        .map(|(system, by_x)| {
            let m = by_x
                .iter()
                .filter_map(|(&x, v)| Some((x, median(&mut v.clone())?)))
                .collect();
            (system.clone(), m)
        })
        .collect()
}

/// "median of N runs" (or "N–M runs" when points differ in their run count).
fn runs_phrase(runs: &Runs) -> String {
    let counts = runs.values().flat_map(|by_x| by_x.values().map(Vec::len));
    let (lo, hi) = counts.fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    if lo == hi {
        format!("median of {lo} run{}", if lo == 1 { "" } else { "s" })
    } else {
        format!("median of {lo}–{hi} runs")
    }
}

/// How a system appears in figures, in drawing order.
const SYSTEMS: [(&str, &str, RGBColor); 6] = [
    ("spool", "Spool", RGBColor(0xd6, 0x27, 0x28)),
    (
        "logfile",
        "alialaee/logfile (Go, group commit)",
        RGBColor(0x1f, 0x77, 0xb4),
    ),
    (
        "nginx",
        "nginx return 200 (stores nothing)",
        RGBColor(0x2c, 0xa0, 0x2c),
    ),
    (
        "redis",
        "Redis LPUSH, appendfsync always",
        RGBColor(0x94, 0x67, 0xbd),
    ),
    (
        "fsync-prealloc",
        "fsync per record, preallocated file (1 thread)",
        RGBColor(0x44, 0x44, 0x44),
    ),
    (
        "fsync-growing",
        "fsync per record, growing file (1 thread)",
        RGBColor(0x99, 0x99, 0x99),
    ),
];

/// One line of a figure.
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    /// A single-x baseline drawn dashed across the whole x range.
    baseline: bool,
}

/// The lines of `medians`, known systems first, each value mapped by
/// `scale`; points a log axis cannot show (not above zero) are left out.
fn lines(medians: &Medians, scale: f64) -> Vec<Line> {
    let known = |s: &str| SYSTEMS.iter().position(|k| k.0 == s);
    let mut systems: Vec<&String> = medians.keys().collect();
    systems.sort_by_key(|s| (known(s).unwrap_or(SYSTEMS.len()), s.as_str()));
    systems
        .into_iter()
        .map(|system| {
            let (label, color) = known(system).map_or((system.clone(), BLACK), |i| {
                (SYSTEMS[i].1.to_owned(), SYSTEMS[i].2)
            });
            let points: Vec<(f64, f64)> = medians[system]
                .iter()
                .map(|(&x, &y)| (f64::from(x), y * scale))
                .filter(|&(x, y)| {
                    let drawable = x > 0.0 && y > 0.0;
                    if !drawable {
                        eprintln!("spool-plot: {system} at {x}: median {y}, not drawn (log axis)");
                    }
                    drawable
                })
                .collect();
            Line {
                label,
                color,
                baseline: system.starts_with("fsync-"),
                points,
            }
        })
        .filter(|line| !line.points.is_empty())
        .collect()
}

/// Ticks 1, 2, 5 × 10^k within `lo..=hi`.
fn ticks_125(lo: f64, hi: f64) -> Vec<f64> {
    let mut decade = 10f64.powf(lo.log10().floor());
    let mut ticks = Vec::new();
    while decade <= hi {
        ticks.extend(
            [1.0, 2.0, 5.0]
                .map(|m| m * decade)
                .iter()
                .filter(|&&t| t >= lo && t <= hi),
        );
        decade *= 10.0;
    }
    ticks
}

/// `v` with thousands separated by commas, or with as many decimals as a
/// value below 1 needs to show its first digit.
fn number(v: f64) -> String {
    if v < 1.0 {
        let decimals = (-v.log10().floor()).clamp(0.0, 6.0) as usize;
        return format!("{v:.decimals$}");
    }
    // Rounded as `{v:.0}` would (ties to even); inputs are checked finite.
    spool_server::cli::grouped(v.round_ties_even() as u64)
}

/// Tick label: 5k, 20k, 1.5M, or `number` below 1,000.
fn short(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => number(v),
    }
}

/// Draws one log-log panel of `lines` on `area`, x ticks at `x_ticks`.
fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    caption: &str,
    (x_desc, x_ticks): (&str, &[u32]),
    y_desc: &str,
    lines: &[Line],
) -> Result<(), Box<dyn Error>> {
    let ys = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (y_min, y_max) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    if y_min > y_max {
        return Err(format!("{caption}: nothing to draw").into());
    }
    let x_ticks: Vec<f64> = x_ticks.iter().copied().map(f64::from).collect();
    let (Some(&x_min), Some(&x_max)) = (x_ticks.first(), x_ticks.last()) else {
        return Err(format!("{caption}: no x values").into());
    };
    // A margin below the lowest point; above the highest, room for the
    // legend (about a quarter of the height).
    let span = (y_max / y_min).ln().max(1.0);
    let (y_lo, y_hi) = (y_min / 1.5, y_max * 1.3 * (0.3 * span).exp());
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min / 1.25..x_max * 1.25)
                .log_scale()
                .with_key_points(x_ticks),
            (y_lo..y_hi)
                .log_scale()
                .with_key_points(ticks_125(y_lo, y_hi)),
        )?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| short(*y))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    for line in lines {
        let style = line.color.stroke_width(2);
        let drawn = if let (true, Some(&(_, y))) = (line.baseline, line.points.first()) {
            chart.draw_series(DashedLineSeries::new([(x_min, y), (x_max, y)], 8, 5, style))?
        } else {
            chart.draw_series(LineSeries::new(line.points.iter().copied(), style).point_size(4))?
        };
        drawn
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The x values measured (above zero), ascending.
fn x_values(medians: &Medians) -> Vec<u32> {
    let mut xs: Vec<u32> = medians
        .values()
        .flat_map(|m| m.keys().copied())
        .filter(|&x| x > 0)
        .collect();
    xs.sort_unstable();
    xs.dedup();
    xs
}

/// `a / b` as "1.23×", or "" when either is missing.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => String::new(),
    }
}

/// A table cell: `number(v)`, or empty when missing.
fn cell(v: Option<f64>) -> String {
    v.map(number).unwrap_or_default()
}

/// `spool-plot writers`: prints the medians of the CSV `csv` (per writer
/// count: Spool, records per fsync, logfile, ratios) and draws them to `out`.
fn writers(csv: &str, out: &Path) -> Result<(), Box<dyn Error>> {
    let runs = read_runs(csv, "writers", "records_per_s")?;
    let rates = medians(&runs);
    let fsyncs = read_runs(csv, "writers", "fsyncs")?;
    let records = read_runs(csv, "writers", "records")?;
    let at = |system: &str, x: u32| rates.get(system).and_then(|m| m.get(&x)).copied();
    let prealloc = at("fsync-prealloc", 1);
    let runs_phrase = runs_phrase(&runs);

    println!("durable 200-byte records per second, {runs_phrase} per point\n");
    println!(
        "fsync per record, 1 thread: preallocated file {} records/s, growing file {} records/s\n",
        cell(prealloc),
        cell(at("fsync-growing", 1))
    );
    println!("| writers | spool records/s | records per fsync | logfile records/s | spool / logfile | spool / fsync-prealloc |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let sum =
        |runs: &Runs, w: u32| -> Option<f64> { Some(runs.get("spool")?.get(&w)?.iter().sum()) };
    let ws = x_values(&rates);
    for &w in &ws {
        let spool = at("spool", w);
        let per_fsync = match (sum(&records, w), sum(&fsyncs, w)) {
            (Some(r), Some(f)) if f > 0.0 => format!("{:.1}", r / f),
            _ => String::new(),
        };
        let logfile = at("logfile", w);
        println!(
            "| {w} | {} | {per_fsync} | {} | {} | {} |",
            cell(spool),
            cell(logfile),
            ratio(spool, logfile),
            ratio(spool, prealloc)
        );
    }

    let root = SVGBackend::new(out, (960, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let area = root.titled(
        &format!("Durable records/s vs concurrent writers, 200-byte records, {runs_phrase}"),
        ("sans-serif", 20),
    )?;
    panel(
        &area,
        "each append returns after fdatasync covers its record",
        ("concurrent writers (threads; log scale)", &ws),
        "durable records/s (log scale)",
        &lines(&rates, 1.0),
    )?;
    root.present()?;
    Ok(())
}

/// `spool-plot connections`: prints the medians of the CSV `csv` (per
/// connection count: records/s and p99 of each system, Spool's ratios) and
/// draws records/s and p99 side by side to `out`.
fn connections(csv: &str, out: &Path) -> Result<(), Box<dyn Error>> {
    let runs = read_runs(csv, "connections", "records_per_s")?;
    let rates = medians(&runs);
    let p99 = medians(&read_runs(csv, "connections", "p99_us")?);
    let at = |m: &Medians, system: &str, c: u32| m.get(system).and_then(|m| m.get(&c)).copied();
    let runs_phrase = runs_phrase(&runs);

    println!(
        "one record per request (nginx: answered requests), loopback, {runs_phrase} per point\n"
    );
    println!("| connections | spool records/s | nginx req/s | redis records/s | spool / nginx | spool / redis | spool p99 µs | nginx p99 µs | redis p99 µs |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cs = x_values(&rates);
    for &c in &cs {
        let (s, n, r) = (
            at(&rates, "spool", c),
            at(&rates, "nginx", c),
            at(&rates, "redis", c),
        );
        println!(
            "| {c} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(s),
            cell(n),
            cell(r),
            ratio(s, n),
            ratio(s, r),
            cell(at(&p99, "spool", c)),
            cell(at(&p99, "nginx", c)),
            cell(at(&p99, "redis", c))
        );
    }

    let root = SVGBackend::new(out, (1400, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let area = root.titled(
        &format!(
            "One ~60-byte record per request vs concurrent keep-alive connections, loopback, {runs_phrase}"
        ),
        ("sans-serif", 20),
    )?;
    let panels = area.split_evenly((1, 2));
    panel(
        &panels[0],
        "throughput (Spool and Redis: acknowledged only once durable)",
        ("concurrent connections (log scale)", &cs),
        "records/s (log scale)",
        &lines(&rates, 1.0),
    )?;
    panel(
        &panels[1],
        "99th percentile request latency",
        ("concurrent connections (log scale)", &cs),
        "p99 latency, ms (log scale)",
        &lines(&p99, 1e-3),
    )?;
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [figure, csv, out] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let draw = match figure.as_str() {
        "writers" => writers,
        "connections" => connections,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = std::fs::read_to_string(csv)
        .map_err(|e| format!("cannot read {csv}: {e}").into())
        .and_then(|text| draw(&text, Path::new(out)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spool-plot: {csv}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITERS_CSV: &str = "system,writers,rep,records_per_s,fsyncs,records
fsync-prealloc,1,1,7000.0,100,100
fsync-growing,1,1,5000.0,100,100
spool,1,1,6900.0,100,100
spool,1,2,7100.0,100,100
spool,16,1,43000.0,13,100
logfile,1,1,11000,,
logfile,16,1,40000,,
";

    #[test]
    fn runs_by_system_and_x_skipping_empty_values() {
        let rates = read_runs(WRITERS_CSV, "writers", "records_per_s").unwrap();
        assert_eq!(rates["spool"][&1], vec![6900.0, 7100.0]);
        assert_eq!(medians(&rates)["spool"][&1], 7000.0);
        let fsyncs = read_runs(WRITERS_CSV, "writers", "fsyncs").unwrap();
        assert!(!fsyncs.contains_key("logfile"));
        assert_eq!(runs_phrase(&rates), "median of 1–2 runs");
    }

    #[test]
    fn malformed_csv_is_an_error_naming_the_line() {
        let short_row = "system,writers,records_per_s\nspool,1\n";
        let e = read_runs(short_row, "writers", "records_per_s").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let bad_number = "system,writers,records_per_s\nspool,1,fast\n";
        assert!(read_runs(bad_number, "writers", "records_per_s").is_err());
        for v in ["inf", "1e309", "NaN", "-5"] {
            let row = format!("system,writers,records_per_s\nspool,1,{v}\n");
            let e = read_runs(&row, "writers", "records_per_s").unwrap_err();
            assert!(e.contains("positive finite"), "{v}: {e}");
        }
        let zero_writers = "system,writers,records_per_s\nspool,0,5\n";
        assert!(read_runs(zero_writers, "writers", "records_per_s").is_err());
        assert!(read_runs("system,x\n", "writers", "records_per_s").is_err());
        assert!(read_runs("", "writers", "records_per_s").is_err());
    }

    #[test]
    fn tick_values_and_labels() {
        assert_eq!(ticks_125(3000.0, 60000.0), [5e3, 1e4, 2e4, 5e4]);
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(short(20000.0), "20k");
        assert_eq!(short(1.5e6), "1.5M");
    }

    #[test]
    fn both_figures_are_drawn() {
        let dir = std::env::temp_dir().join(format!("spool-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let connections_csv = "system,connections,rep,requests_per_s,records_per_s,p50_us,p99_us
nginx,1,1,69000,69000,13,22
spool,1,1,4480,4480,216,315
redis,1,1,4513,4513,215,359
spool,1000,1,41293,41293,22335,41759
redis,1000,1,0,0,0,0
";
        let drawn = writers(WRITERS_CSV, &dir.join("w.svg"))
            .and_then(|()| connections(connections_csv, &dir.join("c.svg")))
            .map_err(|e| e.to_string());
        let svgs = ["w.svg", "c.svg"].map(|f| std::fs::read_to_string(dir.join(f)));
        std::fs::remove_dir_all(&dir).unwrap();
        drawn.unwrap();
        for svg in svgs {
            let svg = svg.unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("<text"), "{svg}");
        }
    }
}
