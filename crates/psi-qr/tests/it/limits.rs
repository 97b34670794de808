//! Inputs that cannot become a QR code give typed errors, never panics.

use std::path::Path;

use psi_qr::{EcLevel, ImageFormat, MAX_MODULE_SIZE, Qr, QrError, QrInfo, QrOptions};

#[test]
fn the_largest_text_fits_in_version_40_and_one_byte_more_is_too_long() {
    for ec_level in EcLevel::ALL {
        let options = QrOptions {
            ec_level,
            module_size: 1,
        };
        let max = ec_level.max_bytes();

        let largest = Qr::new(&"x".repeat(max), options).unwrap();
        assert_eq!(largest.info().version, 40);
        assert_eq!(largest.info().modules, 177);

        match Qr::new(&"x".repeat(max + 1), options) {
            Err(QrError::TooLong {
                bytes,
                ec_level: level,
                max_bytes,
            }) => {
                assert_eq!((bytes, level, max_bytes), (max + 1, ec_level, max));
            }
            other => panic!(
                "expected TooLong at {ec_level}, got {:?}",
                other.map(|q| q.info())
            ),
        }
    }
}

#[test]
fn too_long_error_names_the_sizes_and_suggests_a_way_out() {
    let err = Qr::new(
        &"é".repeat(1000),
        QrOptions {
            ec_level: EcLevel::H,
            module_size: 4,
        },
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "too_long");
    let message = err.to_string();
    assert!(message.contains("2000 bytes"), "{message}");
    assert!(message.contains("1273"), "{message}");
    assert!(message.contains("sourceURL"), "{message}");
}

#[test]
fn module_size_out_of_range_is_refused() {
    for module_size in [0, MAX_MODULE_SIZE + 1, u32::MAX] {
        let err = Qr::new(
            "x",
            QrOptions {
                ec_level: EcLevel::M,
                module_size,
            },
        )
        .err()
        .unwrap();
        assert!(matches!(err, QrError::ModuleSize(size) if size == module_size));
        assert!(err.to_string().contains("out of range"));
    }
    assert!(
        Qr::new(
            "x",
            QrOptions {
                ec_level: EcLevel::M,
                module_size: MAX_MODULE_SIZE
            }
        )
        .is_ok()
    );
}

#[test]
fn empty_text_is_a_valid_code() {
    let qr = Qr::new("", QrOptions::default()).unwrap();
    assert_eq!(qr.info().version, 1);
}

#[test]
fn dense_codes_are_flagged_above_version_10() {
    let small = Qr::new(
        "https://proofspace.id/native/execute/e30",
        QrOptions::default(),
    )
    .unwrap();
    assert!(!small.info().is_dense());
    assert_eq!(small.info().density_warning(), None);

    let big = Qr::new(&"x".repeat(600), QrOptions::default()).unwrap();
    assert!(big.info().version > 10);
    assert!(big.info().is_dense());
    let warning = big.info().density_warning().unwrap();
    assert!(
        warning.contains(&format!("version {}", big.info().version)),
        "{warning}"
    );
    assert!(warning.contains("sourceURL"), "{warning}");
}

#[test]
fn error_correction_levels_parse_and_print() {
    for level in EcLevel::ALL {
        assert_eq!(level.to_string().parse::<EcLevel>().unwrap(), level);
        assert_eq!(
            level.to_string().to_lowercase().parse::<EcLevel>().unwrap(),
            level
        );
    }
    let err = "X".parse::<EcLevel>().unwrap_err();
    assert!(matches!(err, QrError::UnknownEcLevel(ref s) if s == "X"));
}

#[test]
fn image_formats_come_from_file_extensions() {
    assert_eq!(
        ImageFormat::from_path(Path::new("a/b.svg")).unwrap(),
        ImageFormat::Svg
    );
    assert_eq!(
        ImageFormat::from_path(Path::new("B.PNG")).unwrap(),
        ImageFormat::Png
    );
    for bad in ["code.jpg", "code", "svg", ".png.txt"] {
        let err = ImageFormat::from_path(Path::new(bad)).unwrap_err();
        assert_eq!(err.code(), "unknown_format", "{bad}");
    }
}

#[test]
fn sizing_without_drawing_agrees_with_the_drawn_code() {
    for len in [0, 1, 17, 100, 271, 600, 1200, 1663] {
        let text = "h".repeat(len);
        for ec_level in EcLevel::ALL {
            let sized = QrInfo::for_text(&text, ec_level);
            let drawn = Qr::new(
                &text,
                QrOptions {
                    ec_level,
                    module_size: 1,
                },
            );
            match (sized, drawn) {
                (Ok(sized), Ok(drawn)) => assert_eq!(sized, drawn.info(), "{len} at {ec_level}"),
                (Err(sized), Err(drawn)) => {
                    assert_eq!(sized.to_string(), drawn.to_string(), "{len} at {ec_level}")
                }
                (sized, drawn) => panic!(
                    "{len} at {ec_level}: sized {:?}, drawn {:?}",
                    sized.map(|_| ()),
                    drawn.map(|_| ())
                ),
            }
        }
    }
}
