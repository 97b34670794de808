//! Which callback a start page puts into the link it offers, from the request's `User-Agent`
//! alone (docs/protocol.md §3, vectors `callbacks.json`).
//!
//! The order matters: in-app browsers are recognised before Chrome, since their user agents
//! contain `Chrome/` too; browsers built on Chromium that are not Google Chrome (Edge, Samsung
//! Internet, Opera, a plain Android WebView, ...) are not Chrome, so the app would open the
//! wrong browser with `googlechrome://`.

/// What kind of device asked for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Android,
    Ios,
    /// Everything that is not a phone or tablet, including no `User-Agent` at all.
    Desktop,
}

impl Platform {
    /// Reads the platform from a `User-Agent`. An iPad in desktop mode says "Macintosh" and is a
    /// desktop here: it shows the QR code, which a second device can scan.
    ///
    /// ```
    /// use psi_server::pages::callback::Platform;
    /// assert_eq!(Platform::of("Mozilla/5.0 (Linux; Android 14; Pixel 8)"), Platform::Android);
    /// assert_eq!(Platform::of(""), Platform::Desktop);
    /// ```
    pub fn of(user_agent: &str) -> Platform {
        if ["iPhone", "iPad", "iPod"]
            .iter()
            .any(|device| user_agent.contains(device))
        {
            Platform::Ios
        } else if user_agent.contains("Android") {
            Platform::Android
        } else {
            Platform::Desktop
        }
    }

    /// A phone or tablet: the page offers a button rather than a QR code.
    pub fn is_mobile(self) -> bool {
        self != Platform::Desktop
    }
}

/// In-app browsers the holder can be sent back to, by the marker in their user agent.
const IN_APP_BROWSERS: [(&str, &str); 3] = [
    ("WhatsApp", "whatsapp://"),
    ("Telegram", "telegram://"),
    ("Skype", "skype://"),
];

/// Markers of browsers whose user agents say `Chrome/` but which are not Google Chrome: the
/// Android WebView (`; wv)`), Edge, Samsung Internet, Opera (and Opera Touch), Yandex, UC,
/// Vivaldi, and the Xiaomi and Huawei browsers.
const NOT_CHROME: [&str; 12] = [
    "; wv)",
    "EdgA/",
    "EdgiOS/",
    "Edg/",
    "SamsungBrowser/",
    "OPR/",
    "OPT/",
    "YaBrowser/",
    "UCBrowser/",
    "Vivaldi/",
    "MiuiBrowser/",
    "HuaweiBrowser/",
];

/// The scheme that reopens Google Chrome.
const CHROME: &str = "googlechrome://";

/// Whether the browser is Google Chrome: `CriOS` on iOS, `Chrome/` without a marker of another
/// Chromium-based browser on Android.
fn is_google_chrome(user_agent: &str, platform: Platform) -> bool {
    match platform {
        Platform::Ios => user_agent.contains("CriOS/"),
        Platform::Android => {
            user_agent.contains("Chrome/") && !NOT_CHROME.iter().any(|m| user_agent.contains(m))
        }
        Platform::Desktop => false,
    }
}

/// The callback of a start page's link: `None` on a desktop (the link carries no callback);
/// on a phone the in-app browser's scheme, `googlechrome://` for Google Chrome, else the page's
/// own URL on iOS (Safari returns to the same tab only for that URL) and empty on Android.
///
/// `page_url` is the page's full URL as the browser shows it, which ends in a file name
/// (`.../start.html`).
///
/// ```
/// use psi_server::pages::callback::callback;
/// let page = "https://psi.example.org/s/GbzPqgnU4XsMs7xg9mYJW8/1/start.html";
/// let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
///               (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
/// assert_eq!(callback(safari, page).as_deref(), Some(page));
/// assert_eq!(callback("Mozilla/5.0 (X11; Linux x86_64)", page), None);
/// ```
pub fn callback(user_agent: &str, page_url: &str) -> Option<String> {
    let platform = Platform::of(user_agent);
    if !platform.is_mobile() {
        return None;
    }
    let in_app = IN_APP_BROWSERS
        .iter()
        .find(|(marker, _)| user_agent.contains(marker));
    let chosen = match (in_app, platform) {
        (Some((_, scheme)), _) => *scheme,
        (None, _) if is_google_chrome(user_agent, platform) => CHROME,
        (None, Platform::Ios) => page_url,
        (None, _) => "",
    };
    Some(chosen.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const PAGE_URL: &str =
        "https://psi.example.org/s/GbzPqgnU4XsMs7xg9mYJW8/7/start.html?instance=3";

    #[derive(Deserialize)]
    struct Vectors {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        ua: String,
        platform: String,
        callback: Option<String>,
    }

    fn vectors() -> Vec<Case> {
        let json = include_str!("../../../../vectors/callbacks.json");
        serde_json::from_str::<Vectors>(json)
            .expect("callbacks.json")
            .cases
    }

    #[test]
    fn every_vector_gets_its_platform_and_callback() {
        let cases = vectors();
        assert!(cases.len() >= 18, "the vector file lost cases");
        for case in cases {
            let platform = match case.platform.as_str() {
                "android" => Platform::Android,
                "ios" => Platform::Ios,
                "desktop" => Platform::Desktop,
                other => panic!("unknown platform {other} in {}", case.name),
            };
            assert_eq!(Platform::of(&case.ua), platform, "{}", case.name);
            let expected = case.callback.map(|c| c.replace("PAGE_URL", PAGE_URL));
            assert_eq!(callback(&case.ua, PAGE_URL), expected, "{}", case.name);
        }
    }

    #[test]
    fn chromium_browsers_that_are_not_chrome_get_no_chrome_callback() {
        let base = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                    Chrome/124.0.0.0 Mobile Safari/537.36";
        assert_eq!(callback(base, PAGE_URL).as_deref(), Some(CHROME));
        for marker in ["OPT/3.5.1", "YaBrowser/24.1", "Vivaldi/6.6", "EdgA/124.0"] {
            let ua = format!("{base} {marker}");
            assert_eq!(callback(&ua, PAGE_URL).as_deref(), Some(""), "{marker}");
        }
        let edge_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                        (KHTML, like Gecko) Version/17.0 EdgiOS/124.0 Mobile/15E148 Safari/605.1.15";
        assert_eq!(callback(edge_ios, PAGE_URL).as_deref(), Some(PAGE_URL));
    }

    #[test]
    fn in_app_browsers_win_over_chrome_and_desktops_never_get_a_callback() {
        let telegram_chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 \
                               Mobile Safari/537.36 Telegram-Android/10.5.0";
        assert_eq!(
            callback(telegram_chrome, PAGE_URL).as_deref(),
            Some("telegram://")
        );
        let skype_ios =
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) CriOS/124 Skype/8.1";
        assert_eq!(callback(skype_ios, PAGE_URL).as_deref(), Some("skype://"));
        let desktop_telegram =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Telegram/4.0";
        assert_eq!(callback(desktop_telegram, PAGE_URL), None);
    }
}
