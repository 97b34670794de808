//! QR codes inline in pages, as an `<svg>` element sized by CSS.
//!
//! Every start page shows a new link (it carries the page's session), so its code is made on each
//! request. The codes come from fast_qr, which makes a link's code several times faster than the
//! encoder behind psi-qr (about 0.4 ms against 3 ms for a 240-byte link), and the SVG path is one
//! rectangle per horizontal run of dark modules, which keeps the page small.

use std::fmt::Write as _;

use fast_qr::ECL;
use fast_qr::qr::QRBuilder;

/// The light border scanners need, in modules.
const QUIET_ZONE: usize = 4;

/// The code of `text` at level M as an `<svg>` element labelled for screen readers; `None` when
/// the text does not fit in a QR code. The markup holds only numbers and fixed attributes, so
/// pages insert it unescaped.
pub fn inline_svg(text: &str) -> Option<String> {
    let code = QRBuilder::new(text.as_bytes()).ecl(ECL::M).build().ok()?;
    let size = code.size;
    let dark = |x: usize, y: usize| code.data[y * size + x].value();
    let mut path = String::with_capacity(size * size * 2);
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && dark(x, y) {
                x += 1;
            }
            let run = x - start;
            write!(
                path,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            )
            .expect("writing to a String");
        }
    }
    let side = size + 2 * QUIET_ZONE;
    Some(format!(
        "<svg class=\"qr-code\" role=\"img\" aria-label=\"QR code of the link\" \
         xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"{side}\" \
         height=\"{side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" \
         height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_is_one_element_and_text_too_long_has_none() {
        let link = "https://proofspace.id/native/execute/eyJpZCI6IjEiLCJhY3Rpb25JZCI6IjIiLCJzZXJ2aWNlRGlkIjoiR2J6UHFnblU0WHNNczd4ZzltWUpXOCIsInBzaVNlc3Npb24iOiJBQUFBQUFBQUFBQUFBQUFBQUFBQUFBIn0";
        let svg = inline_svg(link).unwrap();
        assert!(
            svg.starts_with("<svg class=\"qr-code\" role=\"img\""),
            "{svg}"
        );
        // That the code reads back as the link is checked on real pages, in tests/api/pages.rs.
        assert!(svg.ends_with("</svg>"));
        assert!(
            inline_svg(&"x".repeat(5000)).is_none(),
            "too long for any code"
        );
    }
}
