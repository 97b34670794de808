//! Terminal output with Unicode half blocks.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// Whether terminal output sets its own colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalColors {
    /// ANSI escapes paint black glyphs on a white background, so the code reads dark-on-light
    /// whatever the terminal's theme; for interactive terminals.
    Ansi,
    /// No escapes: glyphs are the dark modules, spaces the light ones; for files, pipes and
    /// light-themed terminals.
    Plain,
}

// 256-colour black foreground on white background: the basic 16 colours are themed by many
// terminals (a "white" that is grey lowers contrast).
const ANSI_DARK_ON_LIGHT: &str = "\x1b[38;5;16;48;5;231m";
const ANSI_RESET: &str = "\x1b[0m";

pub(crate) fn render(code: &QrCode, colors: TerminalColors) -> String {
    let text = code
        .render::<Dense1x2>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .dark_color(Dense1x2::Dark)
        .light_color(Dense1x2::Light)
        .build();
    match colors {
        TerminalColors::Plain => text,
        TerminalColors::Ansi => text
            .lines()
            .map(|line| format!("{ANSI_DARK_ON_LIGHT}{line}{ANSI_RESET}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}
