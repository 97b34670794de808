//! Which callback a start page puts into the link it offers, from the request's `User-Agent`
//! alone (docs/protocol.md §3, vectors `callbacks.json`), and which in-app browser, if any, the
//! landing page tells the holder to leave ([`in_app_browser`]).
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

/// The browser inside another app (a social network, a messenger), as the landing page names it
/// when asking the holder to open the page in their own browser: such browsers often open
/// neither the app's scheme nor an `intent:` link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InAppBrowser {
    /// A known app's browser, by the app's name.
    App(&'static str),
    /// An Android web view (`; wv)`) of an app that does not name itself.
    WebView,
}

impl InAppBrowser {
    /// The app's name, when known.
    pub fn app(self) -> Option<&'static str> {
        match self {
            InAppBrowser::App(name) => Some(name),
            InAppBrowser::WebView => None,
        }
    }
}

/// Markers of apps' browsers in user agents, with the apps' names. The first match wins:
/// Instagram's and Messenger's user agents may carry Facebook's markers too.
const APP_BROWSERS: [(&str, &str); 18] = [
    ("Instagram", "Instagram"),
    ("FBAN/Messenger", "Messenger"),
    ("FB_IAB/MESSENGER", "Messenger"),
    ("FB_IAB/Orca-Android", "Messenger"),
    ("FBAN/", "Facebook"),
    ("FBAV/", "Facebook"),
    ("FB_IAB/", "Facebook"),
    ("Telegram", "Telegram"),
    ("WhatsApp", "WhatsApp"),
    (" Line/", "LINE"),
    ("Twitter", "X"),
    ("musical_ly", "TikTok"),
    ("Bytedance", "TikTok"),
    ("TikTok", "TikTok"),
    ("Snapchat", "Snapchat"),
    ("LinkedInApp", "LinkedIn"),
    ("MicroMessenger", "WeChat"),
    ("Skype", "Skype"),
];

/// The in-app browser a phone's `User-Agent` shows, if any. Desktops never have one here: their
/// page's QR code works from any browser.
///
/// ```
/// use psi_server::pages::callback::{InAppBrowser, in_app_browser};
/// let instagram = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
///                  (KHTML, like Gecko) Mobile/15E148 Instagram 325.0.0.35.91";
/// assert_eq!(in_app_browser(instagram), Some(InAppBrowser::App("Instagram")));
/// assert_eq!(in_app_browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"), None);
/// ```
pub fn in_app_browser(user_agent: &str) -> Option<InAppBrowser> {
    if !Platform::of(user_agent).is_mobile() {
        return None;
    }
    APP_BROWSERS
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| InAppBrowser::App(name))
        .or_else(|| {
            user_agent
                .contains("; wv)")
                .then_some(InAppBrowser::WebView)
        })
}

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
    fn in_app_browsers_are_named_on_phones_and_real_browsers_are_not_in_app() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A; wv) AppleWebKit/537.36 \
                       (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Mobile/15E148";
        // The markers each app adds after its platform's web view user agent.
        let on_android = [
            (
                "Instagram 325.0.0.35.91 Android (34/14; 420dpi)",
                "Instagram",
            ),
            ("[FB_IAB/FB4A;FBAV/460.0.0.48.109;]", "Facebook"),
            ("[FB_IAB/Orca-Android;FBAV/452.0.0.46.108;]", "Messenger"),
            (
                "Telegram-Android/10.11.2 (Google Pixel 8; Android 14; SDK 34)",
                "Telegram",
            ),
            ("WhatsApp/2.24.8.78 A", "WhatsApp"),
            ("Line/14.5.1/IAB", "LINE"),
            ("TwitterAndroid", "X"),
            (
                "trill_340103 JsSdk/1.0 NetType/WIFI musical_ly_2023401030",
                "TikTok",
            ),
            (
                "MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64",
                "WeChat",
            ),
        ];
        let on_iphone = [
            (
                "Instagram 325.0.0.35.91 (iPhone15,2; iOS 17_4; en_US)",
                "Instagram",
            ),
            (
                "[FBAN/FBIOS;FBDV/iPhone15,2;FBMD/iPhone;FBAV/460.0.0.33.109]",
                "Facebook",
            ),
            (
                "[FBAN/MessengerForiOS;FBAV/455.0.0.38.107;FBBV/1]",
                "Messenger",
            ),
            ("Safari Line/14.5.0", "LINE"),
            ("Twitter for iPhone/10.40", "X"),
            ("BytedanceWebview/d8a21c6", "TikTok"),
            (
                "Snapchat/13.5.0.42 (iPhone15,2; iOS 17.4; gzip)",
                "Snapchat",
            ),
            ("[LinkedInApp]/9.29.8213", "LinkedIn"),
        ];
        let cases = on_android
            .iter()
            .map(|(marker, name)| (format!("{android} {marker}"), *name))
            .chain(
                on_iphone
                    .iter()
                    .map(|(marker, name)| (format!("{iphone} {marker}"), *name)),
            );
        for (ua, name) in cases {
            assert_eq!(in_app_browser(&ua), Some(InAppBrowser::App(name)), "{ua}");
            assert_eq!(in_app_browser(&ua).and_then(InAppBrowser::app), Some(name));
        }
        assert_eq!(in_app_browser(android), Some(InAppBrowser::WebView));
        assert_eq!(InAppBrowser::WebView.app(), None);

        // The browsers the holder is asked to use are not in-app browsers.
        let chrome = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        let samsung = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like \
                       Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36";
        let firefox = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0";
        let desktop_wechat = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              Chrome/81.0 MicroMessenger/7.0.20 WindowsWechat";
        for ua in [chrome, safari, samsung, firefox, desktop_wechat, ""] {
            assert_eq!(in_app_browser(ua), None, "{ua}");
        }
        // Every vector's in-app browser on a phone is one here too.
        for case in vectors() {
            let in_app = ["WhatsApp", "Telegram", "Skype"]
                .iter()
                .any(|marker| case.ua.contains(marker));
            if in_app && case.platform != "desktop" {
                assert!(in_app_browser(&case.ua).is_some(), "{}", case.name);
            }
        }
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
