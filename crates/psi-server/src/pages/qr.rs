//! QR codes inline in pages: psi-qr's SVG without its XML declaration, sized by CSS.

use psi_qr::{EcLevel, Qr, QrError, QrOptions};

/// An `<svg>` element with the code of `text` (level M, one unit per module: CSS scales it),
/// labelled for screen readers. The markup holds only numbers and fixed attributes, so pages
/// insert it unescaped.
pub fn inline_svg(text: &str) -> Result<String, QrError> {
    let svg = Qr::new(
        text,
        QrOptions {
            ec_level: EcLevel::M,
            module_size: 1,
        },
    )?
    .to_svg();
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen(
        "<svg ",
        "<svg class=\"qr-code\" role=\"img\" aria-label=\"QR code of the link\" ",
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_is_an_element_without_a_declaration() {
        let svg = inline_svg("https://proofspace.id/native/execute/eyJ9").unwrap();
        assert!(
            svg.starts_with("<svg class=\"qr-code\" role=\"img\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
