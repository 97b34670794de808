//! SVG and terminal output: dimensions, quiet zone, and content read back by rqrr after
//! rasterising the drawn modules.

use psi_qr::{EcLevel, QUIET_ZONE, Qr, QrOptions, TerminalColors};

const LINK: &str = "https://test.proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEyMyIsInNlcnZpY2VEaWQiOiJHYnpQcWduVTRYc01zN3hnOW1ZSlc4In0";

/// Reads a QR code from a square grid of modules (true = dark), drawn 4 pixels per module.
fn read_modules(grid: &[Vec<bool>]) -> String {
    let scale = 4;
    let size = grid.len() * scale;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_bitmap(size, size, |x, y| grid[y / scale][x / scale]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code");
    grids[0].decode().expect("a readable QR code").1
}

fn attribute(svg: &str, name: &str) -> u32 {
    let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    let end = start + svg[start..].find('"').unwrap();
    svg[start..end].parse().unwrap()
}

/// The rectangles of the SVG path, as `(left, top, width, height)` in pixels.
fn path_rects(svg: &str) -> Vec<[u32; 4]> {
    let start = svg.find(" d=\"").unwrap() + 4;
    let end = start + svg[start..].find('"').unwrap();
    // Each module run is drawn as `M{left} {top}h{width}v{height}H{left}V{top}`.
    svg[start..end]
        .split('M')
        .filter(|s| !s.is_empty())
        .map(|rect| {
            let numbers: Vec<u32> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            [numbers[0], numbers[1], numbers[2], numbers[3]]
        })
        .collect()
}

#[test]
fn svg_has_the_reported_size_keeps_the_quiet_zone_and_reads_back() {
    for (ec_level, module_size) in [
        (EcLevel::L, 1),
        (EcLevel::M, 3),
        (EcLevel::Q, 8),
        (EcLevel::H, 5),
    ] {
        let qr = Qr::new(
            LINK,
            QrOptions {
                ec_level,
                module_size,
            },
        )
        .unwrap();
        let info = qr.info();
        let svg = qr.to_svg();
        let side = (info.modules + 2 * QUIET_ZONE) * module_size;
        assert_eq!(attribute(&svg, "width"), side);
        assert_eq!(attribute(&svg, "height"), side);
        assert!(svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));

        let border = QUIET_ZONE * module_size;
        let total = info.modules + 2 * QUIET_ZONE;
        let mut grid = vec![vec![false; total as usize]; total as usize];
        for [left, top, width, height] in path_rects(&svg) {
            assert!(
                left >= border && top >= border,
                "module drawn in the quiet zone"
            );
            assert!(left + width <= side - border && top + height <= side - border);
            for y in (top..top + height).step_by(module_size as usize) {
                for x in (left..left + width).step_by(module_size as usize) {
                    grid[(y / module_size) as usize][(x / module_size) as usize] = true;
                }
            }
        }
        assert_eq!(read_modules(&grid), LINK);
    }
}

/// Turns half-block text back into a grid of modules.
fn terminal_modules(text: &str) -> Vec<Vec<bool>> {
    let mut grid = Vec::new();
    for line in text.lines() {
        let cells: Vec<char> = line.chars().collect();
        let top = cells.iter().map(|&c| matches!(c, '▀' | '█')).collect();
        let bottom = cells.iter().map(|&c| matches!(c, '▄' | '█')).collect();
        assert!(
            cells.iter().all(|c| " ▀▄█".contains(*c)),
            "only half blocks: {line:?}"
        );
        grid.push(top);
        grid.push(bottom);
    }
    grid
}

#[test]
fn terminal_text_is_half_blocks_with_a_quiet_zone_and_reads_back() {
    let qr = Qr::new(LINK, QrOptions::default()).unwrap();
    let total = (qr.info().modules + 2 * QUIET_ZONE) as usize;
    let text = qr.to_terminal(TerminalColors::Plain);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), total.div_ceil(2));
    let quiet_lines = (QUIET_ZONE / 2) as usize;
    for (i, line) in lines.iter().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        assert_eq!(chars.len(), total);
        let quiet = QUIET_ZONE as usize;
        assert!(
            chars[..quiet]
                .iter()
                .chain(&chars[total - quiet..])
                .all(|&c| c == ' ')
        );
        if i < quiet_lines || i >= lines.len() - quiet_lines {
            assert!(line.trim().is_empty(), "line {i} is quiet zone");
        }
    }

    let mut grid = terminal_modules(&text);
    grid.truncate(total); // the last text line's lower half is padding when `total` is odd
    assert_eq!(read_modules(&grid), LINK);
}

#[test]
fn ansi_terminal_text_paints_every_line_dark_on_light() {
    let qr = Qr::new("Grüße 👋", QrOptions::default()).unwrap();
    let plain = qr.to_terminal(TerminalColors::Plain);
    let ansi = qr.to_terminal(TerminalColors::Ansi);
    assert_eq!(ansi.lines().count(), plain.lines().count());
    for (colored, bare) in ansi.lines().zip(plain.lines()) {
        let inner = colored
            .strip_prefix("\x1b[38;5;16;48;5;231m")
            .and_then(|s| s.strip_suffix("\x1b[0m"))
            .expect("each line sets black on white and resets");
        assert_eq!(inner, bare);
    }
    let mut grid = terminal_modules(&plain);
    grid.truncate((qr.info().modules + 2 * QUIET_ZONE) as usize);
    assert_eq!(read_modules(&grid), "Grüße 👋");
}
