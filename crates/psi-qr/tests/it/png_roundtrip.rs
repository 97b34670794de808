//! Every PNG this crate makes is read back with an independent QR reader (rqrr).

use psi_qr::{EcLevel, QUIET_ZONE, Qr, QrOptions};

/// Reads the one QR code in a PNG image and returns its text.
fn read_png(png: &[u8]) -> String {
    let image = image::load_from_memory(png)
        .expect("a valid PNG")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the image");
    grids[0].decode().expect("a readable QR code").1
}

fn vector_links() -> Vec<String> {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../../../vectors/links.json")).unwrap();
    let links = vectors["links"].as_array().unwrap();
    assert!(!links.is_empty());
    links
        .iter()
        .flat_map(|v| ["app_link", "deep_link", "standard_base64_app_link"].map(|k| v[k].clone()))
        .map(|link| link.as_str().unwrap().to_owned())
        .collect()
}

fn assert_png_reads_back(text: &str, options: QrOptions) {
    let qr = Qr::new(text, options).unwrap();
    let info = qr.info();
    let png = qr.to_png().unwrap();

    let image = image::load_from_memory(&png).unwrap();
    let size = (info.modules + 2 * QUIET_ZONE) * options.module_size;
    assert_eq!((image.width(), image.height()), (size, size));
    assert_eq!(info.image_size(options.module_size), size);
    assert_eq!(info.modules, 4 * u32::from(info.version) + 17);
    assert_eq!(info.ec_level, options.ec_level);

    assert_eq!(read_png(&png), text, "{options:?}");
}

#[test]
fn every_vector_link_reads_back_from_png_at_every_error_correction_level() {
    let links = vector_links();
    for ec_level in EcLevel::ALL {
        for link in &links {
            assert_png_reads_back(
                link,
                QrOptions {
                    ec_level,
                    module_size: 3,
                },
            );
        }
    }
}

#[test]
fn unicode_text_reads_back_from_png() {
    let text = "Grüße, Zoë! данные 漢字 👋🏽 — ✓";
    for ec_level in EcLevel::ALL {
        assert_png_reads_back(
            text,
            QrOptions {
                ec_level,
                module_size: 4,
            },
        );
    }
}

#[test]
fn module_sizes_scale_the_image_and_still_read_back() {
    let link = &vector_links()[0];
    for module_size in [2, 5, 10] {
        assert_png_reads_back(
            link,
            QrOptions {
                ec_level: EcLevel::M,
                module_size,
            },
        );
    }
}

#[test]
fn png_quiet_zone_is_white_and_the_finder_pattern_starts_right_after_it() {
    let module_size = 4;
    let qr = Qr::new(
        "quiet zone",
        QrOptions {
            ec_level: EcLevel::L,
            module_size,
        },
    )
    .unwrap();
    let image = image::load_from_memory(&qr.to_png().unwrap())
        .unwrap()
        .to_luma8();
    let border = QUIET_ZONE * module_size;
    for (x, y, pixel) in image.enumerate_pixels() {
        let inside = (border..image.width() - border).contains(&x)
            && (border..image.height() - border).contains(&y);
        if !inside {
            assert_eq!(pixel.0[0], 255, "quiet zone pixel ({x},{y}) is white");
        }
    }
    // The top-left finder pattern's corner module is dark.
    assert_eq!(image.get_pixel(border, border).0[0], 0);
}

#[test]
fn higher_error_correction_never_makes_a_smaller_code() {
    let link = vector_links().into_iter().max_by_key(String::len).unwrap();
    let versions: Vec<u8> = EcLevel::ALL
        .iter()
        .map(|&ec_level| {
            Qr::new(
                &link,
                QrOptions {
                    ec_level,
                    module_size: 1,
                },
            )
            .unwrap()
            .info()
            .version
        })
        .collect();
    assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
    assert!(
        versions[0] < versions[3],
        "H is larger than L for a long link: {versions:?}"
    );
}
