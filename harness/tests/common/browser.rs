//! Headless Chromium for the rendering tests, and reading its screenshots:
//! pixels, colours, solid rectangles.

use std::path::Path;
use std::process::{Command, Output};

/// Headless Chromium with a fresh profile and no background network,
/// its window `size` (width, height) pixels.
pub fn chromium(args: &[&str], (width, height): (u32, u32)) -> Output {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .expect("sh");
    assert!(
        found.status.success(),
        "chromium is not installed: run scripts/setup-host.sh (apt-get install -y chromium)"
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let user_data = format!("--user-data-dir={}", profile.path().display());
    let window = format!("--window-size={width},{height}");
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
    ])
    .args([
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(&user_data)
    .arg(&window)
    .args(args);
    let out = cmd.output().expect("start chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// RGB pixels of a PNG, row-major.
pub fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(std::fs::File::open(path).expect("open screenshot"));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let samples = info.color_type.samples();
    assert!(
        samples >= 3,
        "expected a colour screenshot, got {:?}",
        info.color_type
    );
    let pixels = buf[..info.buffer_size()]
        .chunks(samples)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

pub fn near(p: [u8; 3], (r, g, b): (u8, u8, u8)) -> bool {
    p[0].abs_diff(r) <= 10 && p[1].abs_diff(g) <= 10 && p[2].abs_diff(b) <= 10
}

pub struct Shot {
    pub width: u32,
    pub pixels: Vec<[u8; 3]>,
}

impl Shot {
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels[(y * self.width + x) as usize]
    }

    /// Solid rectangles of `colour`: vertical runs of `runs` rows at
    /// neighbouring x merged, as (x0, y0, x1, y1). Anti-aliased text never
    /// makes long runs of one colour; a legend key is ~12 rows, a cell ~50.
    pub fn rects(
        &self,
        colour: (u8, u8, u8),
        height: u32,
        runs: std::ops::RangeInclusive<u32>,
    ) -> Vec<(u32, u32, u32, u32)> {
        let mut found: Vec<(u32, u32, u32)> = Vec::new();
        for x in 0..self.width {
            let mut start = None;
            for y in 0..=height {
                if y < height && near(self.at(x, y), colour) {
                    start.get_or_insert(y);
                } else if let Some(s) = start.take() {
                    if runs.contains(&(y - s)) {
                        found.push((x, s, y - 1));
                    }
                }
            }
        }
        let mut out: Vec<(u32, u32, u32, u32)> = Vec::new();
        for (x, y0, y1) in found {
            match out
                .iter_mut()
                .find(|r| r.2 + 1 == x && r.1.abs_diff(y0) <= 2 && r.3.abs_diff(y1) <= 2)
            {
                Some(r) => r.2 = x,
                None => out.push((x, y0, x, y1)),
            }
        }
        out
    }

    /// Pixels of `colour` in rows `rows`, and their bounding box.
    pub fn find(
        &self,
        colour: (u8, u8, u8),
        rows: std::ops::Range<u32>,
    ) -> (usize, Option<(u32, u32, u32, u32)>) {
        let mut n = 0;
        let mut bbox: Option<(u32, u32, u32, u32)> = None;
        for y in rows {
            for x in 0..self.width {
                if near(self.at(x, y), colour) {
                    n += 1;
                    bbox = Some(match bbox {
                        None => (x, y, x, y),
                        Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                    });
                }
            }
        }
        (n, bbox)
    }
}
